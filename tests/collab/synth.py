"""Tiny synthetic ratings for the collab tests: a rank-2 taste model plus biases, rounded to half stars."""

import numpy as np
import pandas as pd


def ratings(n_users=40, n_items=25, n=600, seed=0, titles=False):
    rng = np.random.default_rng(seed)
    u_f, i_f = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    u_b, i_b = rng.normal(0, 0.5, n_users), rng.normal(0, 0.5, n_items)
    pairs = rng.choice(n_users * n_items, size=n, replace=False)
    u, i = pairs // n_items, pairs % n_items
    r = 3.5 + (u_f[u] * i_f[i]).sum(1) * 0.6 + u_b[u] + i_b[i]
    r = np.clip(np.round(r * 2) / 2, 0.5, 5.0)
    df = pd.DataFrame({"userId": u + 100, "movieId": i + 1000, "rating": r.astype(float), "timestamp": 0})
    if titles:
        df["title"] = [f"Movie {k:03d} (1999)" for k in i]
    return df
