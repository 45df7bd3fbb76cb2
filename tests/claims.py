"""What each notebook's text claims about its own results, checked on its fast-mode run.

Each function below takes a :class:`tests.nbval_claims.Run` (what the notebook's cells
printed under nbval in ``make test``, fast mode, shipped weights, and its markdown) and
fails with a message when the claim is not borne out, or when the text no longer makes
it (then update the claim with the text). Register a claim with ``@claim(<notebook>)``.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.nbval_claims import Run, number, numbers

Check = Callable[[Run], None]
#: The claims of each notebook, by notebook name.
CLAIMS: dict[str, list[Check]] = {}


def claim(notebook: str) -> Callable[[Check], Check]:
    """Register the decorated function as a claim of ``notebook``."""
    def register(check: Check) -> Check:
        CLAIMS.setdefault(notebook, []).append(check)
        return check
    return register


# ---------------------------------------------------------------- 01 linear AE and PCA
N01 = "01_linear_autoencoder_pca"


@claim(N01)
def autoencoder_finds_pcas_plane(run: Run) -> None:
    run.says(r"The angles are close to zero and the errors nearly equal")
    printed = run.output("PCA(n_components=2)")
    assert max(numbers("principal angles (degrees):", printed)) < 2.0, printed
    ae = number(r"reconstruction MSE: autoencoder ([\d.]+)", printed)
    pca = number(r"reconstruction MSE: .* PCA ([\d.]+)", printed)
    assert pca <= ae <= 1.1 * pca, f"autoencoder {ae}, PCA {pca}: PCA's is the lowest"


@claim(N01)
def decoder_directions_are_not_orthogonal(run: Run) -> None:
    run.says(r"the decoder's directions are not orthogonal")
    printed = run.output("d1, d2 = decoder_weights.T")
    angle = number(r"angle between them ([\d.]+) degrees", printed)
    pca_angle = number(r"PCA directions: .*angle ([\d.]+) degrees", printed)
    assert abs(angle - 90) > 5 and abs(pca_angle - 90) < 0.1, printed
    assert number(r"relative residual of that fit: ([\d.]+)", printed) < 0.05, printed


# ---------------------------------------------------------------- 02 stacked AEs
N02 = "02_stacked_autoencoders"


@claim(N02)
def plain_codes_are_far_from_a_standard_normal(run: Run) -> None:
    run.says(r"the codes spread over tens of units, far wider than the values of about "
             r"-2 to 2")
    printed = run.output('print("code mean:"')
    mean = numbers("code mean:", printed.split("code std:")[0])
    std = numbers("code std:", printed)
    assert max(abs(m) for m in mean) > 2 or min(std) > 2, printed


@claim(N02)
def in_fast_mode_the_codes_trail_the_pixels(run: Run) -> None:
    run.says(r"In fast mode .* the briefly trained encoder's codes trail the raw pixels")
    printed = run.output("rng = np.random.default_rng(0)")
    pixels, codes = printed.splitlines()[0], printed.splitlines()[1]
    for method in ("logistic regression", "1-NN"):
        p = number(rf"{method} ([\d.]+)", pixels)
        c = number(rf"{method} ([\d.]+)", codes)
        assert c < p, f"{method}: codes {c}, pixels {p}"


@claim(N02)
def the_l1_penalty_makes_the_code_sparse(run: Run) -> None:
    printed = run.output("mean code value")
    vanilla = number(r"vanilla .*zeros (\d+)%", printed)
    sparse = number(r"sparse .*zeros (\d+)%", printed)
    assert sparse > vanilla + 20, printed
    assert number(r"sparse\s+mean code value ([\d.]+)", printed) < \
        number(r"vanilla\s+mean code value ([\d.]+)", printed), printed
