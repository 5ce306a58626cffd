"""The PNG of one class's sweep: loss and learned neurons against neurons per class, knees marked."""

from __future__ import annotations

from edgetune.edge import knee


def plot_class(path, word: str, table, knees: dict[str, knee.Knee], num_weights: int, repetitions: int) -> None:
    """PNG of one class: loss and learned neurons against neurons per class (log x), knees marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = table["neurons_per_class"].to_numpy()
    fig, (ax_loss, ax_learned) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    ax_loss.plot(x, table["loss_min"], marker="o", ms=3, label=f"min of {repetitions}")
    ax_loss.fill_between(
        x, table["loss_mean"] - table["loss_std"], table["loss_mean"] + table["loss_std"],
        alpha=0.25, label="mean ± std",
    )
    ax_loss.set_ylabel(f"loss per sample ({num_weights} − max potential)")
    ax_learned.plot(x, table["learned_min"], marker="o", ms=3, label=f"min of {repetitions}")
    ax_learned.plot(x, table["learned_mean"], ls=":", label="mean")
    ax_learned.set_ylabel("neurons that learned")
    for ax, curve, what in ((ax_loss, "loss", "Loss"), (ax_learned, "learned", "Neurons that learned")):
        k = knees[curve]
        if k.found:
            ax.axvline(k.value, color="tab:red", ls="--", lw=1, label=f"knee: {k.value}")
            ax.plot([k.value], [k.y], "o", color="tab:red")
        else:
            ax.text(0.02, 0.02, "no knee found", transform=ax.transAxes, color="tab:red")
        ax.set_xscale("log")
        ax.set_xlabel("neurons per class")
        ax.set_title(f"{what} for samples of class '{word}'")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.13, top=0.91, wspace=0.2)  # fixed: tight_layout doubled the cost
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
