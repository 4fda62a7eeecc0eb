"""Train the age/gender network on serving-identical crops.

Resumable: an interrupted run started again with the same ``--out`` picks up at
its last finished epoch (Keras BackupAndRestore).

Every epoch each face is shown either as its clean crop or as one of its
store-camera crops (``model/degrade.py``): far, dim, noisy, compressed faces, so
the network reads faces a few metres from a display as well as close ones.

The saved network is the end of the cosine schedule, never an epoch picked by
its validation score: the optimizer keeps an exponential moving average of the
weights, which replaces the raw weights when training ends, and the batch-norm
statistics are then recomputed for those weights on clean (unaugmented)
training crops, the distribution serving sees (clean and degraded, as in
training). The validation metrics of the raw, averaged and recalibrated weights
are all written to ``training.json``, with the temperatures per face size that
make the gender confidence honest, fitted on the calibration split (for single
crops, and for the mean over a crop and its mirror that ``test_time_flip`` serves).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model import machine
from model.bands import age_band
from model.confidence import FACE_PX_BUCKETS, bucket_name, temperature_table
from model.crops import CropSet, DegradedCrops, build_crops, build_degraded_crops
from model.dataset import load_datasets

if TYPE_CHECKING:
    import keras

AGE_SIGMA = 2.0  # spread of the soft age label, in years


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 36
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 32
    dropout: float = 0.3
    age_head: str = "dex"  # see model.network.AGE_HEADS
    ema_momentum: float = 0.995  # about 1.5 epochs of weight history
    patience: int = 12  # stops a run whose validation loss has stalled; keeps its last weights
    degraded_variants: int = 4  # store-camera crops made of each training face
    clean_fraction: float = 0.35  # share of each epoch's faces shown as their clean crop
    # Each epoch draws faces with weights that lift the rare cells of gender x age band x group
    # (older women, children, All-Age-Faces' older people) towards the common ones: a face's
    # weight is its cell's size to this power over the cell's size (0: no balancing, 1: every
    # cell shown equally often; 0.5 halves the imbalance in log terms without repeating the
    # few faces of the rarest cells to exhaustion).
    balance_power: float = 0.5
    seed: int = 1337


def soft_age_labels(ages: np.ndarray, classes: int) -> np.ndarray:
    """A Gaussian over 0..classes-1 centred on each (clipped) age, summing to 1."""
    grid = np.arange(classes, dtype=np.float32)
    centre = np.clip(ages, 0, classes - 1).astype(np.float32)[:, None]
    weights = np.exp(-0.5 * ((grid - centre) / AGE_SIGMA) ** 2)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _targets(crops: CropSet, classes: int, age_head: str) -> dict[str, np.ndarray]:
    ages = np.clip(crops.ages, 0, classes - 1).astype(np.float32)
    targets = {"age": ages[:, None], "gender": crops.genders.astype(np.float32)[:, None]}
    if age_head == "dex":
        targets["age_distribution"] = soft_age_labels(crops.ages, classes)
    elif age_head == "ordinal":
        targets["age_ordinal"] = (ages[:, None] > np.arange(classes - 1)).astype(np.float32)
    return targets


# Per head: (loss, weight) of each age output. The gender loss is the same for all.
# The ordinal weight turns the mean over 100 binary tasks into CORAL's sum.
AGE_LOSSES = {
    "dex": {
        "age": ("mean_absolute_error", 0.1),
        "age_distribution": ("categorical_crossentropy", 1.0),
    },
    "regression": {"age": ("mean_absolute_error", 1.0)},
    "ordinal": {"age": ("mean_absolute_error", 0.1), "age_ordinal": ("binary_crossentropy", 100.0)},
}


def recalibrate_batch_norm(network: keras.Model, crops: np.ndarray, batch_size: int) -> None:
    """Recompute every batch-norm layer's moving statistics on ``crops``.

    Training leaves statistics of augmented batches seen under the raw weights;
    after swapping in the averaged weights they no longer match. Layer by layer,
    in order, each gets the exact mean and variance of its input over one pass,
    as inference computes that input (with the layers before it already fixed).
    """
    import keras

    for layer in network.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        probe = keras.Model(network.input, layer.input)
        total = np.zeros(layer.moving_mean.shape, np.float64)
        squares = np.zeros_like(total)
        count = 0
        for start in range(0, len(crops), batch_size):
            value = keras.ops.convert_to_numpy(
                probe(crops[start : start + batch_size].astype(np.float32), training=False)
            ).astype(np.float64)
            value = value.reshape(-1, value.shape[-1])
            total += value.sum(axis=0)
            squares += (value**2).sum(axis=0)
            count += len(value)
        mean = total / count
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(squares / count - mean**2, 0).astype(np.float32))


def _predict(
    network: keras.Model, crops: np.ndarray, flip: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Ages and P(female); with ``flip``, the mean over each crop and its mirror image, as
    the predictor serves them with ``test_time_flip``."""
    outputs = network.predict(crops.astype(np.float32), batch_size=256, verbose=0)
    ages, female = outputs["age"][:, 0], outputs["gender"][:, 0]
    if flip:
        mirrored = network.predict(crops[:, :, ::-1].astype(np.float32), batch_size=256, verbose=0)
        ages = (ages + mirrored["age"][:, 0]) / 2
        female = (female + mirrored["gender"][:, 0]) / 2
    return ages, female


def validation_metrics(
    network: keras.Model, crops: CropSet, degraded: DegradedCrops | None = None
) -> dict[str, object]:
    """Gender accuracy and age MAE of ``network`` on clean ``crops`` and, by face size, degraded."""
    ages, female = _predict(network, crops.crops)
    metrics: dict[str, object] = {
        "gender_accuracy": round(float(np.mean((female >= 0.5) == crops.genders)), 4),
        "age_mae": round(float(np.mean(np.abs(ages - crops.ages))), 3),
    }
    if degraded is not None:
        ages, female = _predict(network, degraded.crops[:, 0])
        by_size = {}
        for low, high in FACE_PX_BUCKETS:
            inside = (degraded.face_px[:, 0] >= low) & (degraded.face_px[:, 0] < high)
            if inside.any():
                by_size[bucket_name(low, high)] = {
                    "n": int(inside.sum()),
                    "gender_accuracy": round(
                        float(np.mean((female[inside] >= 0.5) == crops.genders[inside])), 4
                    ),
                    "age_mae": round(float(np.mean(np.abs(ages - crops.ages)[inside])), 3),
                }
        metrics["degraded_by_face_px"] = by_size
    return metrics


def balanced_weights(crops: CropSet, power: float) -> np.ndarray:
    """Drawing probabilities for each face: its gender x age band x group cell's size to the
    ``power`` over that size, normalised (``TrainingConfig.balance_power``)."""
    cells = [
        (int(gender), age_band(float(age)), int(group))
        for gender, age, group in zip(crops.genders, crops.ages, crops.races, strict=True)
    ]
    sizes: dict[tuple[int, str, int], int] = {}
    for cell in cells:
        sizes[cell] = sizes.get(cell, 0) + 1
    weights = np.array([sizes[cell] ** (power - 1.0) for cell in cells], np.float64)
    return weights / weights.sum()


def _epoch_batches(
    crops: CropSet, degraded: DegradedCrops, targets: dict[str, np.ndarray], config: TrainingConfig
) -> keras.utils.PyDataset:
    """Batches in a new order every epoch, each face clean or one of its degraded crops; the
    faces are drawn with ``balanced_weights`` (as many draws as faces) unless balancing is off."""
    import keras

    draw = balanced_weights(crops, config.balance_power) if config.balance_power > 0 else None

    class EpochBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.rng = np.random.default_rng(config.seed)
            self.on_epoch_end()

        def __len__(self) -> int:
            return int(np.ceil(len(crops.crops) / config.batch_size))

        def on_epoch_end(self) -> None:
            n = len(crops.crops)
            self.order = self.rng.permutation(n) if draw is None else self.rng.choice(n, n, p=draw)
            # -1: the clean crop; otherwise which degraded variant.
            self.variant = np.where(
                self.rng.random(n) < config.clean_fraction,
                -1,
                self.rng.integers(0, degraded.crops.shape[1], n),
            )

        def __getitem__(self, index: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
            faces = self.order[index * config.batch_size : (index + 1) * config.batch_size]
            variant = self.variant[faces]
            batch = np.where(
                (variant < 0)[:, None, None, None],
                crops.crops[faces],
                degraded.crops[faces, np.maximum(variant, 0)],
            )
            return batch.astype(np.float32), {k: v[faces] for k, v in targets.items()}

    return EpochBatches()


def fit_gender_temperatures(
    network: keras.Model, crops: CropSet, degraded: DegradedCrops, flip: bool = False
) -> list[list[float]]:
    """Per face-width temperatures (``model.confidence``) from the calibration split, for
    single crops or (``flip``) for the mean over each crop and its mirror image."""
    n, variants = degraded.face_px.shape
    _, clean = _predict(network, crops.crops, flip)
    far_crops = degraded.crops.reshape(n * variants, *degraded.crops.shape[2:])
    _, far = _predict(network, far_crops, flip)
    return temperature_table(
        np.concatenate([clean, far]),
        np.concatenate([crops.genders, np.repeat(crops.genders, variants)]),
        np.concatenate([crops.boxes[:, 2], degraded.face_px.reshape(-1)]),
    )


def train(data: list[Path], out: Path, config: TrainingConfig, cache_dir: Path) -> Path:
    """Train on every source in ``data`` and save ``out/model.keras``; returns its path."""
    loaded = load_datasets(data)
    print(f"{len(loaded.images)} labelled images, {len(loaded.skipped)} skipped (malformed names)")
    for name, why in loaded.skipped[:10]:
        print(f"  skipped {name}: {why}")
    splits, degraded = {}, {}
    variants = {"train": config.degraded_variants, "validation": 1, "calibration": 2}
    for split in ("train", "validation", "calibration"):
        images = [i for i in loaded.images if i.split == split]
        splits[split] = build_crops(images, cache_dir)
        missed = splits[split].n_images - len(splits[split].crops)
        print(f"{split}: {splits[split].n_images} images, no face found in {missed}")
        seed = config.seed + {"train": 0, "validation": 10**6, "calibration": 2 * 10**6}[split]
        degraded[split] = build_degraded_crops(
            splits[split], images, variants[split], seed, cache_dir
        )

    import keras  # deferred: importing TensorFlow costs seconds the CLI's other verbs never pay

    from model.network import AGE_CLASSES, build_model, build_training_model

    keras.utils.set_random_seed(config.seed)

    network = build_model(width=config.width, dropout=config.dropout, age_head=config.age_head)
    model = build_training_model(network)
    age_losses = AGE_LOSSES[config.age_head]
    steps = config.epochs * int(np.ceil(len(splits["train"].crops) / config.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps, warmup_target=config.learning_rate, warmup_steps=steps // 20
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(
            schedule,
            weight_decay=config.weight_decay,
            use_ema=config.ema_momentum > 0,
            ema_momentum=config.ema_momentum,
        ),
        loss={name: loss for name, (loss, _) in age_losses.items()}
        | {"gender": "binary_crossentropy"},
        loss_weights={name: weight for name, (_, weight) in age_losses.items()} | {"gender": 2.0},
        metrics={"age": ["mean_absolute_error"], "gender": ["binary_accuracy"]},
    )
    out.mkdir(parents=True, exist_ok=True)
    raw_weights: list[np.ndarray] = []  # the last epoch's, before the average replaces them

    def keep_raw_weights(epoch: int, logs: dict[str, float] | None) -> None:
        raw_weights[:] = network.get_weights()

    started = time.time()
    model.fit(
        _epoch_batches(
            splits["train"],
            degraded["train"],
            _targets(splits["train"], AGE_CLASSES, config.age_head),
            config,
        ),
        validation_data=(
            splits["validation"].crops.astype(np.float32),
            _targets(splits["validation"], AGE_CLASSES, config.age_head),
        ),
        epochs=config.epochs,
        verbose=2,
        callbacks=[
            keras.callbacks.BackupAndRestore(str(out / "backup")),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience),
            keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
            keras.callbacks.LambdaCallback(on_epoch_end=keep_raw_weights),
        ],
    )
    seconds = round(time.time() - started)
    # Measured, not chosen between: the saved network is always the recalibrated average.
    final = {}
    averaged = network.get_weights()
    validation = (splits["validation"], degraded["validation"])
    if raw_weights:
        network.set_weights(raw_weights)
        final["raw"] = validation_metrics(network, *validation)
        network.set_weights(averaged)
    final["averaged"] = validation_metrics(network, *validation)
    # Serving sees near and far faces: the statistics come from the clean crops and one
    # degraded crop of each training face.
    recalibrate_batch_norm(
        network,
        np.concatenate([splits["train"].crops, degraded["train"].crops[:, 0]]),
        config.batch_size,
    )
    final["averaged_recalibrated"] = validation_metrics(network, *validation)
    for name, metrics in final.items():
        print(f"validation, {name} weights: {metrics}")
    temperatures = fit_gender_temperatures(network, splits["calibration"], degraded["calibration"])
    flip_temperatures = fit_gender_temperatures(
        network, splits["calibration"], degraded["calibration"], flip=True
    )
    print(f"gender temperatures by face width: {temperatures}, with a mirror: {flip_temperatures}")
    path = out / "model.keras"
    network.save(path)
    (out / "training.json").write_text(
        json.dumps(
            {
                "config": asdict(config),
                "data": [str(source) for source in data],
                "n_train_images": splits["train"].n_images,
                "n_train_faces": len(splits["train"].crops),
                "n_validation_images": splits["validation"].n_images,
                "n_validation_faces": len(splits["validation"].crops),
                "n_calibration_faces": len(splits["calibration"].crops),
                "skipped_names": len(loaded.skipped),
                "seconds": seconds,
                "final_validation": final,
                "gender_temperatures": temperatures,
                "gender_temperatures_flip": flip_temperatures,
                "keras_backend": keras.backend.backend(),
                "machine": machine.describe(),
                "python": sys.version.split()[0],
            },
            indent=2,
        )
    )
    print(f"saved {path}")
    return path
