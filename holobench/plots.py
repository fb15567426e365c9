"""The report's figures (matplotlib, PNG and SVG): score against context length per category, score
by placement, a length x density heat map, RAG retrieval recall against score, and recall by the
position of the gold rows' lines.

Every figure is drawn from the aggregate tables, so a plotted point and its error bar are the
numbers in the CSV next to it.  Files carry no timestamps, so reruns give identical SVGs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

FORMATS = ("png", "svg")
plt.rcParams["svg.hashsalt"] = "holobench"


def _save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        path = out_dir / f"{name}.{fmt}"
        metadata: dict[str, str | None] = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(path, dpi=120, metadata=metadata)
        paths.append(path)
    plt.close(fig)
    return paths


def _tokens(n: float) -> str:
    return f"{int(n) // 1000}k" if n >= 1000 and int(n) % 1000 == 0 else str(int(n))


def _errors(df: pd.DataFrame, value: str = "mean") -> np.ndarray:
    return np.vstack([(df[value] - df["ci_low"]).clip(lower=0), (df["ci_high"] - df[value]).clip(lower=0)])


def score_vs_length(by_category_length: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One panel per category, one line per model, 95% CI as error bars."""
    categories = sorted(by_category_length["category"].unique())
    fig, axes = plt.subplots(
        1, max(1, len(categories)), figsize=(3.2 * max(1, len(categories)), 3.4), squeeze=False, layout="constrained"
    )
    lengths = sorted(by_category_length["target_tokens"].unique())
    for ax, category in zip(axes[0], categories, strict=False):
        part = by_category_length[by_category_length["category"] == category]
        for model, line in part.groupby("model", sort=True):
            line = line.sort_values("target_tokens")
            ax.errorbar(line["target_tokens"], line["mean"], yerr=_errors(line), marker="o", capsize=3, label=model)
        ax.set_title(category)
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths, [_tokens(n) for n in lengths])
        ax.minorticks_off()
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("context length (tokens)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("score")
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle("Score vs. context length by category (95% CI over queries)")
    return _save(fig, out_dir, "score_vs_length")


def score_by_placement(by_placement: pd.DataFrame, out_dir: Path) -> list[Path]:
    placements = sorted(by_placement["placement"].unique())
    models = sorted(by_placement["model"].unique())
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(placements) + 1), 3.2), layout="constrained")
    x = np.arange(len(placements))
    for i, model in enumerate(models):
        part = by_placement[by_placement["model"] == model].set_index("placement").reindex(placements)
        ax.bar(x + i * width, part["mean"], width, yerr=_errors(part.fillna(0)), capsize=3, label=model)
    ax.set_xticks(x + width * (len(models) - 1) / 2, placements)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("score")
    ax.set_title("Score by placement (95% CI)")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out_dir, "score_by_placement")


def length_density_heatmap(by_length_setting: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Mean score per (context length, information density) cell, one panel per model."""
    dens = by_length_setting[by_length_setting["setting"] == "density"]
    if dens.empty:
        return []
    models = sorted(dens["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(3.6 * len(models), 3.2), squeeze=False, layout="constrained")
    image = None
    for ax, model in zip(axes[0], models, strict=True):
        grid = dens[dens["model"] == model].pivot_table(index="target_tokens", columns="level", values="mean")
        image = ax.imshow(grid.to_numpy(), vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(len(grid.columns)), [f"{v:g}" for v in grid.columns])
        ax.set_yticks(range(len(grid.index)), [_tokens(v) for v in grid.index])
        for (i, j), v in np.ndenumerate(grid.to_numpy()):
            if not np.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black", fontsize=8)
        ax.set_title(model, fontsize=9)
        ax.set_xlabel("information density")
    axes[0][0].set_ylabel("context length")
    if image is not None:
        fig.colorbar(image, ax=axes[0].tolist(), label="score", shrink=0.9)
    fig.suptitle("Score by length x density")
    return _save(fig, out_dir, "heatmap_length_density")


def recall_vs_score(df: pd.DataFrame, out_dir: Path) -> list[Path]:
    """RAG runs only: does a low score come from what retrieval missed?"""
    rag = df[df["primary"] & df["retrieval_recall"].notna() & (df["status"] == "scored")]
    if rag.empty:
        return []
    fig, ax = plt.subplots(figsize=(4.4, 3.4), layout="constrained")
    for model, part in rag.groupby("model", sort=True):
        ax.scatter(part["retrieval_recall"], part["score"], s=14, alpha=0.6, label=model)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("retrieval recall of relevant rows")
    ax.set_ylabel("score")
    ax.set_title("RAG: retrieval recall vs. score")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _save(fig, out_dir, "recall_vs_score")


def recall_by_position(by_decile: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Recall of gold rows by the decile of the context their lines sit in: one panel per category
    (``all`` first), one line per model, 95% CI as error bars."""
    if by_decile.empty:
        return []
    categories = sorted(by_decile["category"].unique(), key=lambda c: (c != "all", c))
    fig, axes = plt.subplots(
        1, len(categories), figsize=(3.2 * len(categories), 3.4), squeeze=False, layout="constrained"
    )
    for ax, category in zip(axes[0], categories, strict=True):
        part = by_decile[by_decile["category"] == category]
        for model, line in part.groupby("model", sort=True):
            line = line.sort_values("decile")
            yerr = _errors(line, "recall")
            ax.errorbar(line["decile"], line["recall"], yerr=yerr, marker="o", capsize=3, label=model)
        ax.set_title(category)
        ax.set_xticks(range(10))
        ax.set_xlim(-0.5, 9.5)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("decile of the context (0: start)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("recall of gold rows")
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle("Recall by where the gold rows' lines sit (95% CI over queries)")
    return _save(fig, out_dir, "recall_by_position")
