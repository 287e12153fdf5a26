"""Simple baselines, so every benchmark shows what the ensemble adds.

Each returns per-point anomaly scores (higher = more anomalous) and flags, fitted
on training data and applied to test data.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM


def zscore(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|z| > 3 on the training mean and standard deviation."""
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-12
    score = np.abs((test - mean) / std).max(axis=1)
    return score, score > 3


def lof(train: np.ndarray, test: np.ndarray, contamination: float) -> tuple[np.ndarray, np.ndarray]:
    model = LocalOutlierFactor(n_neighbors=20, novelty=True, contamination=contamination)
    model.fit(train)
    return -model.score_samples(test), model.predict(test) == -1


def ocsvm(
    train: np.ndarray, test: np.ndarray, contamination: float
) -> tuple[np.ndarray, np.ndarray]:
    scaler = StandardScaler().fit(train)
    model = OneClassSVM(nu=contamination, gamma="scale").fit(scaler.transform(train))
    score = -model.decision_function(scaler.transform(test))
    return score, score > 0


def kmeans_distance(
    train: np.ndarray, test: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Distance to the nearest of 8 centroids; flagged above the 95th training percentile."""
    scaler = StandardScaler().fit(train)
    model = KMeans(n_clusters=8, n_init=4, random_state=seed).fit(scaler.transform(train))
    train_d = model.transform(scaler.transform(train)).min(axis=1)
    score = model.transform(scaler.transform(test)).min(axis=1)
    return score, score > np.quantile(train_d, 0.95)
