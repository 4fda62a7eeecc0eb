"""The GPU worker: the frame-job queue drained in batches, with the inference Lambda's semantics.

``python -m infra.gpu_worker`` (``__main__``) wires ``worker.GpuWorker`` (receivers, fetchers,
one model call per batch of frames, recorders, batched deletes) to ``batch_predictor`` (the
serving predictor's faces for a batch of frames). Both networks run on LiteRT (CPU) or on
Keras 3 (``--runtime keras``: the YuNet port with its shipped weights and the trained .keras
age/gender model, on PyTorch with CUDA in the image); the cascade around them is the
Lambda's own (``model.predictor.Predictor.predict_batch``).
Deployed by template.yaml (GpuWorkers > 0) from ``Dockerfile``; run locally by
``python -m infra.stack --gpu-worker``.
"""
