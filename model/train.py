"""Train the age/gender network on serving-identical crops.

Resumable: an interrupted run started again with the same ``--out`` picks up at
its last finished epoch (Keras BackupAndRestore).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from model.crops import CropSet, build_crops
from model.dataset import load_dataset

AGE_SIGMA = 2.0  # spread of the soft age label, in years


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 40
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    width: int = 32
    dropout: float = 0.3
    patience: int = 10
    seed: int = 1337


def soft_age_labels(ages: np.ndarray, classes: int) -> np.ndarray:
    """A Gaussian over 0..classes-1 centred on each (clipped) age, summing to 1."""
    grid = np.arange(classes, dtype=np.float32)
    centre = np.clip(ages, 0, classes - 1).astype(np.float32)[:, None]
    weights = np.exp(-0.5 * ((grid - centre) / AGE_SIGMA) ** 2)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _targets(crops: CropSet, classes: int) -> dict[str, np.ndarray]:
    return {
        "age": np.clip(crops.ages, 0, classes - 1).astype(np.float32)[:, None],
        "age_distribution": soft_age_labels(crops.ages, classes),
        "gender": crops.genders.astype(np.float32)[:, None],
    }


def train(data: Path, out: Path, config: TrainingConfig, cache_dir: Path) -> Path:
    """Train and save ``out/model.keras``; returns its path."""
    loaded = load_dataset(data)
    print(f"{len(loaded.images)} labelled images, {len(loaded.skipped)} skipped (malformed names)")
    for name, why in loaded.skipped[:10]:
        print(f"  skipped {name}: {why}")
    splits = {}
    for split in ("train", "validation"):
        images = [i for i in loaded.images if i.split == split]
        splits[split] = build_crops(images, cache_dir)
        missed = splits[split].n_images - len(splits[split].crops)
        print(f"{split}: {splits[split].n_images} images, no face found in {missed}")

    import keras  # deferred: importing TensorFlow costs seconds the CLI's other verbs never pay

    from model.network import AGE_CLASSES, build_model, build_training_model

    keras.utils.set_random_seed(config.seed)

    network = build_model(width=config.width, dropout=config.dropout)
    model = build_training_model(network)
    steps = config.epochs * int(np.ceil(len(splits["train"].crops) / config.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps, warmup_target=config.learning_rate, warmup_steps=steps // 20
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss={
            "age": "mean_absolute_error",
            "age_distribution": "categorical_crossentropy",
            "gender": "binary_crossentropy",
        },
        loss_weights={"age": 0.1, "age_distribution": 1.0, "gender": 2.0},
        metrics={"age": ["mean_absolute_error"], "gender": ["binary_accuracy"]},
    )
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    model.fit(
        splits["train"].crops.astype(np.float32),
        _targets(splits["train"], AGE_CLASSES),
        validation_data=(
            splits["validation"].crops.astype(np.float32),
            _targets(splits["validation"], AGE_CLASSES),
        ),
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        verbose=2,
        callbacks=[
            keras.callbacks.BackupAndRestore(str(out / "backup")),
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=config.patience, restore_best_weights=True
            ),
            keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
        ],
    )
    path = out / "model.keras"
    network.save(path)
    (out / "training.json").write_text(
        json.dumps(
            {
                "config": asdict(config),
                "data": str(data),
                "n_train_images": splits["train"].n_images,
                "n_train_faces": len(splits["train"].crops),
                "n_validation_images": splits["validation"].n_images,
                "n_validation_faces": len(splits["validation"].crops),
                "skipped_names": len(loaded.skipped),
                "seconds": round(time.time() - started),
                "keras_backend": keras.backend.backend(),
                "machine": f"{platform.machine()} {platform.processor()}".strip(),
                "python": sys.version.split()[0],
            },
            indent=2,
        )
    )
    print(f"saved {path}")
    return path
