"""What each notebook's text claims about its own results, checked on its fast-mode run.

Each function below takes a :class:`tests.nbval_claims.Run` (what the notebook's cells
printed under nbval in ``make test``, fast mode, shipped weights, and its markdown) and
fails with a message when the claim is not borne out, or when the text no longer makes
it (then update the claim with the text). Register a claim with ``@claim(<notebook>)``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

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


# ---------------------------------------------------------------- records of the shipped weights
ROOT = Path(__file__).resolve().parents[1]


def weights_record(name: str) -> dict:
    """The training record shipped with the course's weights ``name`` (full mode)."""
    return json.loads((ROOT / "weights" / f"{name}.json").read_text())


def results_row(notebook: str, model: str) -> str:
    """The cells after "model(s)" of the row of docs/results.md's table "what the models
    reach with the course's weights" for ``notebook`` whose model(s) cell names ``model``."""
    for line in (ROOT / "docs" / "results.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] == notebook and model in cells[1]:
            return " | ".join(cells[2:])
    raise AssertionError(f"docs/results.md has no row for {notebook} {model!r}")


def results_note(label: str) -> str:
    """The line of docs/results.md that contains ``label``."""
    for line in (ROOT / "docs" / "results.md").read_text().splitlines():
        if label in line:
            return line
    raise AssertionError(f"docs/results.md has no line with {label!r}")


# ---------------------------------------------------------------- 03 convolutional AEs
N03 = "03_convolutional_autoencoders"


@claim(N03)
def both_decoders_have_the_same_parameter_count(run: Run) -> None:
    run.says(r"the two decoders have exactly the same number of parameters")
    printed = run.output("for decoder in (upsampling_decoder, transposed_decoder)")
    upsampling = number(r"upsampling_decoder\s+([\d,]+) parameters", printed)
    transposed = number(r"transposed_decoder\s+([\d,]+) parameters", printed)
    assert upsampling == transposed, printed


@claim(N03)
def transposed_overlap_is_uneven_upsampling_even(run: Run) -> None:
    run.says(r"Some output pixels receive one contribution, some two, some four")
    run.says(r"Upsampling followed by a convolution covers every pixel evenly \(except at "
             r"the borders")
    printed = run.output("transposed conv values:")
    transposed = numbers("transposed conv values:", printed.split("upsampling + conv:")[0])
    smooth = numbers("upsampling + conv:", printed)
    assert transposed == [1, 2, 4], printed
    # 3x3 = 9 contributions inside, 6 along the edges and 4 in the corners (zero padding)
    assert smooth == [4, 6, 9], printed


@claim(N03)
def the_graded_example_shapes_hold(run: Run) -> None:
    run.says(r"Example: `autoencoder\(\(28, 28, 1\), \[16, 8, 8\], \(4, 4, 8\)\)`\. The "
             r"encoder goes 28 → 14 → 7 → 4 and outputs `\(4, 4, 8\)`")
    run.says(r"The encoder gives 8x8x4 \(32 → 16 → 8\)\. .* and the last conv 28x28x3")
    # the tests cell checks exactly these shapes, (32, 32, 3) -> (8, 8, 4) -> (28, 28, 3)
    printed = run.output("(((32, 32, 3), [8, 4], (8, 8, 4)), (28, 28, 3))")
    assert "shapes: OK" in printed, printed


# ---------------------------------------------------------------- 04 recurrent AE
N04 = "04_recurrent_autoencoder"


def _comparison_04(run: Run) -> tuple[dict[str, float], dict[str, float], str]:
    """The dense and the recurrent rows of the comparison, and the printed text."""
    printed = run.output("runs = {\"dense\"")
    rows = {}
    for name in ("dense", "recurrent"):
        line = next(line for line in printed.splitlines() if line.startswith(name))
        rows[name] = {"val loss": number(r"val loss ([\d.]+)", line),
                      "mse": number(r"test MSE ([\d.]+)", line),
                      "psnr": number(r"PSNR\s+([\d.]+) dB", line),
                      "parameters": number(r"([\d,]+) parameters", line),
                      "seconds": number(r"([\d.]+) s training", line),
                      "epochs": number(r"\((\d+) epochs", line)}
    return rows["dense"], rows["recurrent"], printed


@claim(N04)
def recurrent_has_far_fewer_parameters_but_slower_epochs(run: Run) -> None:
    run.says(r"the recurrent autoencoder has far fewer parameters than the dense one .* "
             r"an epoch takes several times longer")
    dense, recurrent, printed = _comparison_04(run)
    assert recurrent["parameters"] < dense["parameters"] / 2, printed
    per_epoch = [row["seconds"] / row["epochs"] for row in (dense, recurrent)]
    assert per_epoch[1] > 3 * per_epoch[0], f"seconds per epoch {per_epoch}:\n{printed}"


@claim(N04)
def with_the_course_weights_the_recurrent_ae_trails(run: Run) -> None:
    run.says(r"With the course's weights \(trained in full mode: 20 epochs on 55,000 images, "
             r"2 CPU cores\)")
    run.says(r"the recurrent autoencoder took 724 s against the dense one's 102 s, and still "
             r"trailed it: validation loss 0\.122 against 0\.086, PSNR about 18 dB against "
             r"22 dB \(as printed above\)")
    dense, recurrent, printed = _comparison_04(run)
    # the full-mode training record, as loaded and printed, and as shipped
    for name, row, seconds, loss in (("dense", dense, 102, 0.086),
                                     ("recurrent", recurrent, 724, 0.122)):
        made = weights_record(f"04_{name}_ae")
        assert round(row["seconds"]) == round(made["made"]["seconds"]) == seconds, printed
        assert round(row["val loss"], 3) == round(made["history"]["val_loss"][-1], 3) == loss, \
            printed
        assert made["made"]["mode"] == "full" and made["made"]["epochs"] == 20, made["made"]
        assert "2 CPU cores" in made["made"]["machine"], made["made"]
    assert abs(recurrent["psnr"] - 18) <= 0.5 and abs(dense["psnr"] - 22) <= 0.5, printed
    assert recurrent["mse"] > dense["mse"] and recurrent["psnr"] < dense["psnr"], printed


@claim(N04)
def the_recurrent_ae_was_still_learning_at_epoch_20(run: Run) -> None:
    run.says(r"its training loss was still falling at epoch 20, and its validation loss fell "
             r"from 0\.128 at epoch 15 to 0\.122 at epoch 20")
    history = weights_record("04_recurrent_ae")["history"]
    assert history["loss"][-1] < history["loss"][-2], history["loss"]
    val = history["val_loss"]
    assert (round(val[14], 3), round(val[19], 3)) == (0.128, 0.122), val


# ---------------------------------------------------------------- 05 denoising AEs
N05 = "05_denoising_autoencoders"


def _scores_05(run: Run) -> tuple[dict[str, tuple[float, float]], str]:
    """(MSE, PSNR) of each row of the last score table, and the printed text."""
    return _mse_psnr_table(run.output("scores[name] = score(outputs)"))


def _mse_psnr_table(printed: str) -> tuple[dict[str, tuple[float, float]], str]:
    """``{row: (MSE, PSNR)}`` of a table printed as ``<row>  MSE <m>  PSNR <p> dB``."""
    table = {}
    for line in printed.splitlines():
        match = re.match(r"(.+?)\s+MSE ([\d.]+)\s+PSNR\s+([\d.]+) dB", line)
        if match:
            table[match.group(1)] = (float(match.group(2)), float(match.group(3)))
    return table, printed


@claim(N05)
def clipped_noise_brightens_the_background_by_about_0_2(run: Run) -> None:
    run.says(r"the background is no longer black on average but about .*\\approx 0\.2")
    printed = run.output("mean of background pixels")
    assert number(r"clean ([\d.]+)", printed) == 0, printed
    assert abs(number(r"noisy ([\d.]+)", printed) - 0.5 / math.sqrt(2 * math.pi)) < 0.01, \
        printed


@claim(N05)
def the_denoiser_beats_the_noisy_input_and_the_median_filter(run: Run) -> None:
    run.says(r"The denoiser's error to the clean images is several times smaller than the "
             r"noisy inputs' error, and it also beats the median filter")
    table, printed = _scores_05(run)
    noisy, median = table["noisy input (baseline)"], table["median filter 3x3"]
    denoiser = table["conv denoiser"]
    assert denoiser[0] * 3 < noisy[0], printed
    assert denoiser[0] < median[0] and denoiser[1] > median[1] > noisy[1], printed


@claim(N05)
def fast_mode_scores_are_the_printed_ones(run: Run) -> None:
    run.says(r"Fast mode scores the first 1,000 test images: 20\.2, 14\.2 and 9\.4 dB")
    assert "1,000 for evaluation" in run.output("helpers.budget("), run.output("helpers.budget(")
    table, printed = _scores_05(run)
    got = [round(table[name][1], 1) for name in
           ("conv denoiser", "median filter 3x3", "noisy input (baseline)")]
    assert got == [20.2, 14.2, 9.4], printed


@claim(N05)
def full_mode_scores_are_the_recorded_ones(run: Run) -> None:
    run.says(r"With the course's shipped weights \(30 epochs on 55,000 images\), full mode "
             r"scores all 10,000 test images: 20\.1 dB for the convolutional denoiser, 14\.2 "
             r"dB for the median filter and 9\.4 dB for the noisy input")
    row = results_row("05", "conv denoiser")
    assert number(r"^[\d.]+ / ([\d.]+) dB", row) == 20.1, row
    assert number(r"median filter [\d.]+ / ([\d.]+) dB", row) == 14.2, row
    assert number(r"noisy input [\d.]+ / ([\d.]+) dB", row) == 9.4, row
    assert weights_record("05_conv_denoiser")["made"]["epochs"] == 30


@claim(N05)
def gaussian_noise_model_beats_the_input_dropout_model_falls_below(run: Run) -> None:
    run.says(r"The `GaussianNoise` model beats the noisy input clearly, about 18 dB against "
             r"9\.4 dB")
    run.says(r"The `Dropout` model does \*worse than its input\*, 8\.5 dB")
    table, printed = _scores_05(run)
    noisy = table["noisy input (baseline)"][1]
    gaussian, dropout = table["dense AE + GaussianNoise"][1], table["dense AE + Dropout"][1]
    assert abs(gaussian - 18) <= 0.5 and round(noisy, 1) == 9.4, printed
    assert dropout < noisy and round(dropout, 1) == 8.5, printed
    for name in ("05_dense_gaussian_noise", "05_dense_dropout"):
        assert weights_record(name)["made"]["epochs"] == 30, name


@claim(N05)
def the_conv_denoiser_stays_ahead_of_both_dense_models(run: Run) -> None:
    run.says(r"The convolutional model, trained on exactly the noise it faces and with "
             r"filters suited to images, stays well ahead of both")
    table, printed = _scores_05(run)
    conv = table["conv denoiser"][1]
    assert conv > table["dense AE + GaussianNoise"][1] + 1, printed
    assert conv > table["dense AE + Dropout"][1] + 1, printed


@claim(N05)
def corruption_layers_act_only_while_training(run: Run) -> None:
    run.says(r"Like `GaussianNoise`, it does nothing outside training")
    run.says(r"`predict` is deterministic, while calling the model with `training=True` draws "
             r"new noise each time")
    printed = run.output("largest change to a pixel")
    for layer in ("GaussianNoise", "Dropout"):
        assert number(rf"{layer}, training=True\s+largest change to a pixel: ([\d.]+)",
                      printed) > 0, printed
        assert number(rf"{layer}, training=False\s+largest change to a pixel: ([\d.]+)",
                      printed) == 0, printed
    # kept pixels doubled, to 2 at most: a pixel of 1 changes by 1
    run.says(r"The kept pixels in the `Dropout` row are doubled, to 2 at most")
    assert number(r"Dropout, training=True\s+largest change to a pixel: ([\d.]+)",
                  printed) == 1.0, printed
    printed = run.output("predict twice identical")
    lines = [line for line in printed.splitlines() if line.strip()]
    assert len(lines) == 2, printed
    for line in lines:
        assert line.endswith("predict twice identical: True; training=True twice identical: "
                             "False"), printed


# ---------------------------------------------------------------- 06 super-resolution
N06 = "06_super_resolution"


def _scores_06(run: Run) -> tuple[dict[str, tuple[float, float]], str]:
    return _mse_psnr_table(run.output('scores["network"] = score('))


@claim(N06)
def bicubic_is_the_best_interpolation(run: Run) -> None:
    run.says(r"Smooth interpolation beats pixel repetition, and bicubic is the best of the "
             r"three")
    table, printed = _scores_06(run)
    assert table["bicubic"][1] > table["bilinear"][1] > table["nearest"][1], printed
    assert table["bicubic"][0] < table["bilinear"][0] < table["nearest"][0], printed


@claim(N06)
def the_network_gains_about_9_db_over_bicubic(run: Run) -> None:
    run.says(r"The network gains about 9 dB over bicubic interpolation")
    run.says(r"beats all three in PSNR on the test set")
    table, printed = _scores_06(run)
    network = table["network"][1]
    assert abs(network - table["bicubic"][1] - 9) <= 0.5, printed
    assert all(network > table[name][1] for name in ("nearest", "bilinear", "bicubic")), \
        printed


@claim(N06)
def fast_mode_network_against_bicubic(run: Run) -> None:
    run.says(r"Fast mode scores the first 1,000 test images: 29\.9 dB against 20\.6 dB, "
             r"better on every one")
    assert "1,000 for evaluation" in run.output("helpers.budget("), run.output("helpers.budget(")
    table, printed = _scores_06(run)
    assert (round(table["network"][1], 1), round(table["bicubic"][1], 1)) == (29.9, 20.6), \
        printed
    assert "better than bicubic on 1,000 of 1,000 test images" in printed, printed


@claim(N06)
def full_mode_network_against_bicubic_is_the_recorded_one(run: Run) -> None:
    run.says(r"full mode, which scores all 10,000 test images, gives 29\.9 dB against 20\.8 "
             r"dB for bicubic, and the network is better on 9,999 of the 10,000 images")
    row = results_row("06", "upsampler")
    assert number(r"^[\d.]+ / ([\d.]+) dB", row) == 29.9, row
    assert number(r"bicubic [\d.]+ / ([\d.]+) dB", row) == 20.8, row
    assert number(r"better on [\d.]+% / ([\d,]+) of 10,000 images", row) == 9_999, row
    assert weights_record("06_upsampler")["made"]["epochs"] == 30


@claim(N06)
def only_nearest_is_exactly_consistent(run: Run) -> None:
    run.says(r"Only nearest-neighbour is exactly consistent")
    run.says(r"The network is not exact either, but its gap is small")
    run.says(r"an output's gap can never exceed its MSE to the truth")
    printed = run.output("MSE between downscaled output and input")
    gap = {name: number(rf"{name}\s+MSE between downscaled output and input: ([\d.]+)",
                        printed) for name in ("nearest", "bilinear", "bicubic", "network")}
    assert gap["nearest"] == 0, printed
    assert 0 < gap["network"] < min(gap["bilinear"], gap["bicubic"]), printed
    table, scores = _scores_06(run)
    for name, value in gap.items():
        assert value <= table[name][0], f"{name}: gap {value}, MSE {table[name][0]}\n{scores}"


# ---------------------------------------------------------------- 07 colorization
N07 = "07_colorization"


def _scores_07(run: Run) -> tuple[dict[str, dict[str, float]], str]:
    printed = run.output('scores["colorizer"] = score(')
    table = {}
    for line in printed.splitlines():
        match = re.match(r"(.+?)\s+MSE ([\d.]+)\s+PSNR mean\s+([\d.]+) dB, median\s+([\d.]+) "
                         r"dB\s+chroma ([\d.]+)", line)
        if match:
            table[match.group(1)] = dict(zip(("mse", "mean", "median", "chroma"),
                                             map(float, match.groups()[1:]), strict=True))
    return table, printed


@claim(N07)
def some_test_photos_are_almost_gray(run: Run) -> None:
    run.says(r"The CIFAR-10 test photos are not very colorful on average, and some are "
             r"almost gray")
    printed = run.output("mean chroma of the test photos")
    assert number(r"(\d+) of \d+ below 0\.02", printed) > 0, printed


@claim(N07)
def colorizer_beats_gray_in_mse_median_psnr_and_on_most_images(run: Run) -> None:
    run.says(r"The colorizer's MSE and its median PSNR beat the gray baseline, and it wins "
             r"on most test images")
    table, printed = _scores_07(run)
    gray, colorizer = table["gray (baseline)"], table["colorizer"]
    assert colorizer["mse"] < gray["mse"], printed
    assert colorizer["median"] > gray["median"], printed
    assert number(r"better than gray on (\d+)% of the test images", printed) > 50, printed


@claim(N07)
def predicted_colors_are_faint(run: Run) -> None:
    run.says(r"about 0\.08 for the colorizer against about 0\.13 in the true photos")
    table, printed = _scores_07(run)
    photos = run.output("mean chroma of the test photos")
    true = number(r"mean chroma of the test photos: ([\d.]+)", photos)
    assert abs(table["colorizer"]["chroma"] - 0.08) <= 0.005, printed
    assert abs(true - 0.13) <= 0.005, photos
    assert table["gray (baseline)"]["chroma"] == 0, printed
    run.says(r"The course's weights \(30 epochs on 45,000 photos\)")
    assert weights_record("07_colorizer")["made"]["epochs"] == 30


# ---------------------------------------------------------------- 08 VAE
N08 = "08_variational_autoencoder"


@claim(N08)
def sampling_layer_has_std_2_and_the_right_gradients(run: Run) -> None:
    run.says(r"Samples with mean 1 and log variance \$\\log 4\$ should have standard "
             r"deviation 2 \(not 4\)")
    printed = run.output("grad_mean, grad_log_var = tape.gradient")
    assert abs(number(r"std ([\d.]+)", printed) - 2) < 0.1, printed
    assert abs(number(r"z: mean ([\d.]+)", printed) - 1) < 0.1, printed
    assert "dz/dmean is 1: True" in printed, printed
    assert "dz/dlog_var is (z - mean) / 2: True" in printed, printed


@claim(N08)
def kl_matches_tfp_to_float32_precision(run: Run) -> None:
    run.says(r"Both results should agree to float32 precision")
    printed = run.output("tfd.kl_divergence(posterior, prior)")
    assert number(r"largest difference: ([\d.e-]+)", printed) < 1e-6, printed
    rows = re.findall(r"\[([\d.]+) ([\d.]+)\]", printed)
    assert len(rows) == 6 and all(a == b for a, b in rows), printed


@claim(N08)
def the_trap_samples_std_4_and_pays_the_kl_of_std_2(run: Run) -> None:
    run.says(r"such a model draws with standard deviation 4 and pays the KL of a standard "
             r"deviation 2")
    printed = run.output("KL charged by the formula")
    assert abs(number(r"exp\(s\) \* eps:\s+std ([\d.]+)", printed) - 4) < 0.05, printed
    assert abs(number(r"exp\(s / 2\) \* eps: std ([\d.]+)", printed) - 2) < 0.05, printed
    charged = number(r"KL charged by the formula: ([\d.]+)", printed)
    actual = number(r"KL of what exp\(s\) \* eps samples: ([\d.]+)", printed)
    # the KL of N(0, 2^2) from N(0, 1): (4 - 1 - log 4) / 2
    assert round(charged, 2) == round((4 - 1 - math.log(4)) / 2, 2) and charged < actual, \
        printed


@claim(N08)
def the_shipped_vae_trained_30_epochs_in_140_s(run: Run) -> None:
    run.says(r"A full run of 30 epochs takes a few minutes on a laptop CPU \(the shipped "
             r"weights took 140 s on two cores\)")
    made = weights_record("08_vae")["made"]
    assert made["epochs"] == 30 and round(made["seconds"]) == 140, made
    assert "2 CPU cores" in made["machine"] and made["mode"] == "full", made
    printed = run.output('"08_vae"')
    assert "30 epoch(s), 140 s of training" in printed, printed


@claim(N08)
def kl_settles_at_a_few_nats_reconstruction_falls_steadily(run: Run) -> None:
    run.says(r"The reconstruction term falls steadily")
    run.says(r"It settles at a few nats per image")
    history = weights_record("08_vae")["history"]
    reconstruction = history["reconstruction"]
    assert all(b < a for a, b in zip(reconstruction, reconstruction[1:])), reconstruction
    assert all(2 <= kl <= 10 for kl in history["kl"][-10:] + history["val_kl"][-10:]), history


@claim(N08)
def the_vae_codes_are_centred_with_a_spread_near_1(run: Run) -> None:
    run.says(r"the cloud is centred: mean code about \(0\.0, 0\.1\), spread about 1\.1 to "
             r"1\.3 per axis")
    run.says(r"The printed average \$\\sigma\$ shows how wide each image's cloud is: much "
             r"narrower than the prior")
    printed = run.output("average sigma")
    centre = numbers("mean code:", printed.split("spread:")[0])
    spread = numbers("spread:", printed.split("average sigma:")[0])
    sigma = numbers("average sigma:", printed)
    assert abs(centre[0] - 0.0) <= 0.05 and abs(centre[1] - 0.1) <= 0.05, printed
    assert all(1.05 <= s < 1.35 for s in spread), printed
    assert max(sigma) < 0.5, printed


@claim(N08)
def plain_codes_spread_over_tens_of_units(run: Run) -> None:
    run.says(r"they spread over tens of units \(printed above\)")
    printed = run.output("plain codes: centre")
    spread = numbers("spread", printed)
    assert max(spread) >= 10 and min(spread) > 3, printed


@claim(N08)
def graded_vae_full_mode_near_150_fast_mode_about_190(run: Run) -> None:
    run.says(r"In full mode \(50 epochs on 55,000 images\) expect a validation loss near "
             r"150: the VAE of section 8 has the same layers and reached 149\.9 after its 30 "
             r"epochs")
    run.says(r"Fast mode stops far earlier, at about 190")
    history = weights_record("08_vae")
    assert round(history["history"]["val_loss"][-1], 1) == 149.9, history["history"]
    assert history["made"]["epochs"] == 30, history["made"]
    note = results_note("08, graded task (d)")
    assert abs(number(r"validation loss ([\d.]+) after 50 epochs", note) - 150) <= 2, note
    printed = run.output("b_task = helpers.budget(")
    assert abs(number(r"validation loss after \d+ epoch\(s\): ([\d.]+)", printed) - 190) <= 5, \
        printed


@claim(N08)
def the_subclassed_plain_ae_shipped_30_epochs_255_s(run: Run) -> None:
    run.says(r"in full mode 30 epochs on 55,000 images")
    run.says(r"loads the course's weights into it \(the shipped ones record 255 s of training "
             r"on two cores")
    made = weights_record("08_plain_ae")["made"]
    assert made["epochs"] == 30 and round(made["seconds"]) == 255, made
    assert "2 CPU cores" in made["machine"] and made["mode"] == "full", made
    printed = run.output('"08_plain_ae"')
    assert "30 epoch(s), 255 s of training" in printed, printed


@claim(N08)
def the_restored_plain_ae_gives_identical_outputs(run: Run) -> None:
    run.says(r"The restored model's outputs are identical to the original's, bit for bit")
    printed = run.output("restored.load_weights(path)")
    assert "identical: True" in printed, printed


@claim(N08)
def the_gaussian_vae_shipped_30_epochs_182_s(run: Run) -> None:
    run.says(r"trained with the Bernoulli VAE's optimizer and budget \(its shipped weights "
             r"record 182 s of training on two cores\)")
    made = weights_record("08_vae_gaussian")["made"]
    assert made["epochs"] == 30 and round(made["seconds"]) == 182, made
    assert made["mode"] == "full" and made["epochs"] == weights_record("08_vae")["made"]["epochs"]
    printed = run.output('"08_vae_gaussian"')
    assert "30 epoch(s), 182 s of training" in printed, printed


@claim(N08)
def the_gaussian_nll_is_the_squared_error_plus_392_log_pi(run: Run) -> None:
    run.says(r"the constant is \$392\\log\\pi \\approx 448\.7\$ nats")
    run.says(r"the Gaussian negative log-likelihood with \$\\sigma_x\^2 = \\frac12\$ exceeds "
             r"the summed squared error by exactly \$392\\log\\pi\$")
    run.says(r"adds 448\.7 nats to the squared error")
    constant = 392 * math.log(math.pi)
    assert round(constant, 1) == 448.7, constant
    printed = run.output("392 * np.log(np.pi)")
    low = number(r"images: ([\d.]+) to", printed)
    high = number(r"images: [\d.]+ to ([\d.]+)", printed)
    assert abs(low - constant) < 0.01 and abs(high - constant) < 0.01, printed


def _loss_table(run: Run) -> dict[str, list[float]]:
    printed = run.output("392 * np.log(np.pi)")
    return {name: numbers(name, printed) for name in ("Bernoulli VAE", "Gaussian VAE")}


@claim(N08)
def the_squared_error_is_a_fifth_of_the_cross_entropy(run: Run) -> None:
    run.says(r"the summed squared error is about a fifth of the cross-entropy")
    run.says(r"So a few nats of KL are a small part of the Bernoulli VAE's loss and a larger "
             r"part of the Gaussian VAE's")
    table = _loss_table(run)
    for name, (ce, se, _) in table.items():
        assert 0.17 <= se / ce <= 0.25, (name, table)
    (ce_b, _, kl_b), (_, se_g, kl_g) = table["Bernoulli VAE"], table["Gaussian VAE"]
    assert 2 <= kl_b <= 10 and 2 <= kl_g <= 10, table
    assert kl_b / (ce_b + kl_b) < kl_g / (se_g + kl_g), table


@claim(N08)
def the_gaussian_vae_keeps_less_and_reconstructs_worse(run: Run) -> None:
    run.says(r"the Gaussian VAE has the smaller KL term, so its codes carry less information "
             r"about each image, and its reconstructions are worse by both measures, even by "
             r"the squared error it was trained on")
    run.says(r"the Gaussian VAE keeps fewer nats in its codes than the Bernoulli VAE and "
             r"reconstructs worse, even by the squared error")
    table = _loss_table(run)
    (ce_b, se_b, kl_b), (ce_g, se_g, kl_g) = table["Bernoulli VAE"], table["Gaussian VAE"]
    assert kl_g < kl_b and ce_g > ce_b and se_g > se_b, table
    run.says(r"a standard deviation of \$\\sqrt\{1/2\} \\approx 0\.71\$ per pixel is large "
             r"for pixel values between 0 and 1")
    assert round(math.sqrt(0.5), 2) == 0.71


@claim(N08)
def most_pixels_are_black(run: Run) -> None:
    run.says(r"For a black pixel \(most of the pixels, printed above\)")
    printed = run.output("392 * np.log(np.pi)")
    assert number(r"pixels exactly 0 \(black\) in these images: (\d+)%", printed) > 50, printed


@claim(N08)
def the_gaussian_vae_codes_are_closer_to_the_prior(run: Run) -> None:
    run.says(r"its spread per axis \(printed above\) is closer to 1 than the Bernoulli VAE's "
             r"\(section 10\), and each image's cloud is wider \(a larger average \$\\sigma\$\)")
    bernoulli = run.output("average sigma: ")
    gaussian = run.output("Gaussian VAE: mean code")
    spread_b = numbers("spread:", bernoulli.split("average sigma:")[0])
    sigma_b = numbers("average sigma:", bernoulli)
    spread_g = numbers("spread", gaussian.split("average sigma")[0])
    sigma_g = numbers("average sigma", gaussian)
    assert max(abs(s - 1) for s in spread_g) < min(abs(s - 1) for s in spread_b), \
        (bernoulli, gaussian)
    assert min(sigma_g) > max(sigma_b), (bernoulli, gaussian)


# ---------------------------------------------------------------- 09 VAE with TFP layers
N09 = "09_vae_tfp_layers"


@claim(N09)
def the_tfp_vae_trained_893_s_on_2_cores(run: Run) -> None:
    run.says(r"Training the VAE in full mode takes about a quarter of an hour on a CPU \(893 "
             r"s on 2 CPU cores, as recorded with the course's weights\)")
    made = weights_record("09_tfp_vae")["made"]
    assert round(made["seconds"]) == 893 and "2 CPU cores" in made["machine"], made
    assert made["mode"] == "full" and 10 * 60 <= made["seconds"] <= 20 * 60, made


@claim(N09)
def keras_3_and_tf_keras_are_separate(run: Run) -> None:
    run.says(r"`tf\.keras` points to it")
    run.says(r"a Keras 3 layer is not a `tf_keras` layer")
    run.says(r"TFP's layers subclass `tf_keras` layers")
    printed = run.output('print("keras (Keras 3):  "')
    keras3 = re.search(r"keras \(Keras 3\):\s+(\S+)", printed)
    tf_keras = re.search(r"tf\.keras is version (\S+)", printed)
    assert keras3 and tf_keras and keras3.group(1) == tf_keras.group(1), printed
    assert "TFP layers are tf_keras layers: True" in printed, printed
    assert "a Keras 3 Dense is a tf_keras layer: False" in printed, printed
    run.says(r"Mixing fails loudly: a Keras 3 model refuses a TFP layer")
    printed = run.output("tfpl.IndependentNormal(2)])")
    assert printed.startswith("ValueError:"), printed


@claim(N09)
def the_posterior_has_65_parameters(run: Run) -> None:
    run.says(r"a mean \(10 numbers\) and a lower-triangular scale matrix \$L\$ with "
             r"\$\\Sigma = LL\^\\top\$ \(55 numbers\), 65 in all, as the next cell prints")
    printed = run.output("params_size(latent_dims))")
    assert number(r"posterior parameters per image: (\d+)", printed) == 65 == 10 + 10 * 11 / 2, \
        printed


@claim(N09)
def a_plain_bernoulli_reads_gray_pixels_as_0(run: Run) -> None:
    run.says(r"so 0\.3 and 0\.7 are silently read as 0 \(the cell below\)")
    printed = run.output("bernoulli = tfd.Bernoulli(")
    assert "dtype: int32" in printed, printed
    gray = numbers("log_prob of 0, 0.3, 0.7, 1:", printed)
    binary = numbers("log_prob of 0, 0,   0,   1:", printed)
    assert len(gray) == 4 and gray == binary, printed


@claim(N09)
def loss_outside_the_tape_gives_no_gradients(run: Run) -> None:
    run.says(r"the chain from loss to weights is broken, and every gradient is `None`")
    printed = run.output("loss_outside = ")
    outside = re.search(r"outside the tape: (\d+) of (\d+) gradients are None", printed)
    inside = re.search(r"inside the tape:\s+(\d+) of (\d+) gradients are None", printed)
    assert outside and outside.group(1) == outside.group(2) != "0", printed
    assert inside and inside.group(1) == "0", printed


@claim(N09)
def the_shipped_run_ends_at_107_4_fast_mode_ends_higher(run: Run) -> None:
    run.says(r"the curves below show that full-mode run \(30 epochs on 55,000 images\) in "
             r"either mode; its validation loss ends at 107\.4 nats per image")
    run.says(r"Trained here in fast mode, the loop runs the 3 epochs on 6,000 images that the "
             r"data cell printed, and the curves end higher")
    record = weights_record("09_tfp_vae")
    assert round(record["history"]["val_loss"][-1], 1) == 107.4, record["history"]["val_loss"]
    assert record["made"]["epochs"] == 30, record["made"]
    printed = run.output("b = helpers.budget(")
    assert "3 epoch(s) on 6,000 training examples" in printed, printed
    row = results_row("09", "TFP VAE")
    assert number(r"fast mode from scratch: ([\d.]+)", row) > 107.4, row


@claim(N09)
def restoring_a_checkpoint_reproduces_the_outputs_exactly(run: Run) -> None:
    run.says(r"restoring into a fresh model reproduces the saved model's outputs exactly")
    printed = run.output("identical after restoring")
    after = printed.split("identical after restoring:")[1].split("\n")[0]
    before = printed.split("identical before restoring:")[1].split("\n")[0]
    assert after.count("True") == 3 and "False" not in after, printed
    assert before.count("False") == 3 and "True" not in before, printed
