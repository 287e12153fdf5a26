"""Seasonal profile: the expected shape of a series over the day or the week.

A drop to a level that is normal at night is an incident at the daily peak; a model
of the value alone cannot see it. At fit time the profile is estimated per feature
as the median, per time-of-day (or time-of-week) bin, of the value minus a rolling
median over one period (so the profile holds the shape, not the level), and kept
only when it explains the data: it must shrink the robust spread of the detrended
values by `min_gain`, and the weekly profile must beat the daily one by that much
again. Bins are read off timestamps, not row positions, so gaps and irregular steps
fall into the right bins; with `timezone` set the bins follow local time (DST).
Less than `min_periods` periods of history is a seasonal cold start: no profile,
and the reason is kept for the run's notes.

Noise often grows with the level (2% of 500 at the peak is five times 2% of 100 at
night); one global noise scale would then flag every busy hour. So the profile also
keeps a noise multiplier per bin (the robust spread of the residuals' row-to-row
steps in that bin over the median bin's), used when the bins differ by more than
`HETEROSCEDASTIC` x beyond sampling noise. Steps, because they hold the noise the
members see: the residuals themselves also vary from day to day (a swing that grows
with a trend, weekdays and weekends), most at the peak and the trough, and that drift,
which every member follows locally, would inflate those bins and magnify the steep
hours' noise (on a daily sine growing 10-30% a month: mean errors of 1.45 sigmas in
the steep hours against 0.6 at the trough, and 9 false events in 14 days). No bin's
noise is less than the value quantum of a quantised series: a quiet hour that sits on
one value would otherwise make one ordinary step many sigmas.

Beyond sampling noise: 3 days of 5-minute rows put ~18 steps in a 30-minute bin, and
the bins of an even noise then differ by 1.3-1.7x by chance (spurious multipliers
that make ordinary points alert). So the bins' 90th/10th percentile ratio is also
taken with the steps' bin labels shuffled (`SHUFFLES` seeded shuffles: same steps,
same bin sizes, no time of day), and a column keeps its multipliers only when
log(ratio)^2 > log(HETEROSCEDASTIC)^2 + the largest shuffled log(ratio)^2 (real and
chance spread add about in quadrature). The largest, as shuffling also breaks the
dependence of adjacent steps, which makes real bins a little more variable. An even
noise over 3 days keeps multipliers in 0 of 100 series (58 before), noise 2x larger
at the peak in 87, 3x in 100; the cost is one grouped median over 5x the steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from detector.config import SeasonalityParams

DAY_US = 86_400 * 10**6
HETEROSCEDASTIC = 1.5  # 90th / 10th percentile of the bins' noise before it is modelled
SHUFFLES = 5  # bin-label shuffles that measure the spread of the bins from sampling alone
MULTIPLIER_RANGE = (0.2, 5.0)
PERIODS_US = {"daily": DAY_US, "weekly": 7 * DAY_US}


def robust_spread(x: np.ndarray) -> np.ndarray:
    """1.4826 x median absolute deviation, per column."""
    return 1.4826 * np.median(np.abs(x - np.median(x, axis=0)), axis=0)


def _local_us(ts: np.ndarray, timezone: str | None) -> np.ndarray:
    stamps = np.asarray(ts).astype("datetime64[us]")
    if timezone:
        local = pd.DatetimeIndex(stamps).tz_localize("UTC").tz_convert(timezone).tz_localize(None)
        stamps = local.to_numpy("datetime64[us]")
    return stamps.astype(np.int64)


@dataclass
class SeasonalFit:
    period: str | None  # "daily", "weekly" or None
    note: str  # why (cold start, no gain, chosen with gain ...)
    gain: float = 0.0


class SeasonalProfile:
    """Per-feature profile over `n_bins` bins of one period; subtract it before modelling."""

    def __init__(self, params: SeasonalityParams) -> None:
        self.params = params
        self.period_us: int | None = None
        self.profile_: np.ndarray | None = None  # (n_bins, f)
        self.noise_: np.ndarray | None = None  # (n_bins, f) noise multipliers, median 1

    @property
    def active(self) -> bool:
        return self.profile_ is not None

    def fit(self, X: np.ndarray, ts: np.ndarray, floor: np.ndarray | None = None) -> SeasonalFit:
        """`floor`: smallest noise sigma per feature (the ensemble passes the value
        quantum of a quantised series): no bin's noise multiplier implies less."""
        us = _local_us(ts, self.params.timezone)
        if len(us) < 3:
            return SeasonalFit(None, "too few rows for seasonality")
        step = float(np.median(np.diff(us)))
        span = float(us[-1] - us[0]) + step
        wanted: list[str] = [p for p in self.params.periods if step <= PERIODS_US[p] / 12]
        if not wanted:
            return SeasonalFit(
                None, f"step {step / 6e7:.0f} min too coarse for {self.params.periods}"
            )
        fits: list[tuple[float, str, np.ndarray, np.ndarray | None]] = []
        short: list[str] = []
        for name in wanted:
            period = PERIODS_US[name]
            if span < self.params.min_periods * period:
                short.append(
                    f"{name}: {span / DAY_US:.1f} days of history, "
                    f"{self.params.min_periods * period / DAY_US:.0f} needed"
                )
                continue
            profile, noise, gain = self._estimate(X, us, period, step, floor)
            fits.append((gain, name, profile, noise))
        if not fits:
            return SeasonalFit(None, "seasonal cold start (" + "; ".join(short) + ")")
        fits.sort(key=lambda f: PERIODS_US[f[1]])  # shortest period first
        best_gain, best_name, best_profile, best_noise = fits[0]
        for gain, name, profile, noise in fits[1:]:
            # a longer period must cut what the shorter one leaves by min_gain again
            if 1 - gain <= (1 - self.params.min_gain) * (1 - best_gain):
                best_gain, best_name, best_profile, best_noise = gain, name, profile, noise
        if best_gain < self.params.min_gain:
            return SeasonalFit(None, f"no seasonality (best gain {best_gain:.2f})", best_gain)
        self.period_us = PERIODS_US[best_name]
        self.profile_ = best_profile
        self.noise_ = best_noise
        note = f"{best_name} profile (spread -{best_gain:.0%})"
        if best_noise is not None:
            note += ", noise varies with the time of day"
        if short:
            note += "; " + "; ".join(short)
        return SeasonalFit(best_name, note, best_gain)

    def _bins(self, period: int, step: float) -> int:
        width = max(step, self.params.bin_minutes * 60e6)
        return max(int(round(period / width)), 1)

    def _estimate(
        self,
        X: np.ndarray,
        us: np.ndarray,
        period: int,
        step: float,
        floor: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None, float]:
        """The profile, its noise multipliers and its gain: the share of the detrended
        spread it removes on periods it was not estimated from (even periods predict
        odd ones and back), so a profile that only fits noise gains nothing."""
        n_bins = self._bins(period, step)
        index = pd.DatetimeIndex(us.astype("datetime64[us]"))
        trend = (
            pd.DataFrame(X, index=index)
            .rolling(pd.Timedelta(microseconds=period), center=True, min_periods=1)
            .median()
            .to_numpy()
        )
        detrended = X - trend
        bins = ((us % period) * n_bins // period).astype(np.int64)
        parity = (us // period) % 2 == 0
        gains = []
        for fold in (parity, ~parity):
            if fold.all() or not fold.any():
                continue
            held_out = ~fold
            fitted = self._profile(detrended[fold], bins[fold], n_bins)
            after = robust_spread(detrended[held_out] - self._lookup(fitted, us[held_out], period))
            spread = robust_spread(detrended[held_out])
            with np.errstate(divide="ignore", invalid="ignore"):
                gains.append(np.where(spread > 0, 1 - after / spread, 0.0))
        profile = self._profile(detrended, bins, n_bins)
        residual = detrended - self._lookup(profile, us, period)
        gain = float(np.mean(gains)) if gains else 0.0
        return profile, self._noise(residual, bins, n_bins, floor), gain

    @staticmethod
    def _profile(detrended: np.ndarray, bins: np.ndarray, n_bins: int) -> np.ndarray:
        profile = np.full((n_bins, detrended.shape[1]), np.nan)
        frame = pd.DataFrame(detrended).groupby(bins).median()
        profile[frame.index.to_numpy()] = frame.to_numpy()
        profile = _fill_circular(profile)
        return profile - np.median(profile, axis=0)

    @staticmethod
    def _noise(
        residual: np.ndarray, bins: np.ndarray, n_bins: int, floor: np.ndarray | None = None
    ) -> np.ndarray | None:
        """Per-bin noise multipliers (circularly smoothed, median 1), or None when flat.
        A column whose bins differ no more than shuffled bins do keeps multipliers of 1."""
        if len(residual) < 2:
            return None
        steps = np.diff(residual, axis=0)
        n_cols = steps.shape[1]
        floor_ = None if floor is None else np.broadcast_to(np.asarray(floor, float), (n_cols,))
        spread = _noise_sigma(_bin_spread(steps, bins[1:], n_bins), floor_)
        typical = np.median(spread, axis=0)
        if not (typical > 0).all():
            return None
        # the same statistic with the steps' bin labels shuffled: what sampling noise gives
        rng = np.random.default_rng(0)
        keys = np.concatenate([k * n_bins + rng.permutation(bins[1:]) for k in range(SHUFFLES)])
        shuffled = _bin_spread(np.tile(steps, (SHUFFLES, 1)), keys, SHUFFLES * n_bins)
        shuffled = shuffled.reshape(SHUFFLES, n_bins, n_cols).transpose(1, 0, 2)
        shuffled = shuffled.reshape(n_bins, SHUFFLES * n_cols)
        floors = None if floor_ is None else np.tile(floor_, SHUFFLES)
        chance = _log_ratio(_noise_sigma(shuffled, floors)).reshape(SHUFFLES, n_cols)
        keep = _log_ratio(spread) ** 2 > np.log(HETEROSCEDASTIC) ** 2 + chance.max(0) ** 2
        if not keep.any():
            return None
        return np.where(keep, np.clip(spread / typical, *MULTIPLIER_RANGE), 1.0)

    @staticmethod
    def _lookup(profile: np.ndarray, us: np.ndarray, period: int) -> np.ndarray:
        """Linear interpolation between bin centres, around the circle."""
        n_bins = len(profile)
        position = (us % period) * n_bins / period - 0.5
        left = np.floor(position).astype(np.int64)
        frac = (position - left)[:, None]
        return (1 - frac) * profile[left % n_bins] + frac * profile[(left + 1) % n_bins]

    def values(self, ts: np.ndarray) -> np.ndarray:
        """The profile at each timestamp, (n, f)."""
        if self.profile_ is None or self.period_us is None:
            raise ValueError("no seasonal profile")
        return self._lookup(self.profile_, _local_us(ts, self.params.timezone), self.period_us)

    def multipliers(self, ts: np.ndarray) -> np.ndarray:
        """The noise multiplier at each timestamp, (n, f); ones when the noise is flat."""
        noise = getattr(self, "noise_", None)
        if noise is None or self.period_us is None:
            return np.ones((len(ts), 1 if self.profile_ is None else self.profile_.shape[1]))
        return self._lookup(noise, _local_us(ts, self.params.timezone), self.period_us)


def _fill_circular(profile: np.ndarray) -> np.ndarray:
    """Empty bins (gaps in every period) take the circular interpolation of their neighbours."""
    out = profile.copy()
    n = len(out)
    for j in range(out.shape[1]):
        column = out[:, j]
        known = np.flatnonzero(np.isfinite(column))
        if len(known) == 0:
            out[:, j] = 0.0
            continue
        x = np.concatenate([known - n, known, known + n])
        y = np.tile(column[known], 3)
        out[:, j] = np.interp(np.arange(n), x, y)
    return out


def _bin_spread(steps: np.ndarray, keys: np.ndarray, n_keys: int) -> np.ndarray:
    """Median absolute deviation of the steps per key, (n_keys, f); NaN for an empty key."""
    frame = pd.DataFrame(steps)
    centred = frame - frame.groupby(keys).transform("median")
    per_key = centred.abs().groupby(keys).median()
    spread = np.full((n_keys, steps.shape[1]), np.nan)
    spread[per_key.index.to_numpy()] = per_key.to_numpy()
    return spread


def _noise_sigma(spread: np.ndarray, floor: np.ndarray | None) -> np.ndarray:
    """Per-bin step spreads to noise sigmas: gaps filled, circularly smoothed, floored."""
    spread = _fill_circular(spread)
    spread = (np.roll(spread, 1, axis=0) + spread + np.roll(spread, -1, axis=0)) / 3
    spread = 1.4826 * spread / np.sqrt(2)  # a noise sigma, like the floor
    if floor is not None:  # a quiet hour of a quantised series: one step is one quantum
        spread = np.maximum(spread, floor)
    return spread


def _log_ratio(spread: np.ndarray) -> np.ndarray:
    """log(90th / 10th percentile) of the bins, per column (inf when the 10th is 0)."""
    q10, q90 = np.quantile(spread, [0.1, 0.9], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(q90) - np.log(q10)
