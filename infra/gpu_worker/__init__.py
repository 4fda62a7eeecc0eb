"""The GPU worker: the frame-job queue drained in batches, with the inference Lambda's semantics.

``python -m infra.gpu_worker`` (``__main__``) wires ``worker.GpuWorker`` (receivers, fetchers,
one model call per batch of frames, recorders, batched deletes) to ``batch_predictor`` (the
serving predictor's faces for a batch of frames). Each network runs on LiteRT (CPU) or on
Keras 3 (``--detector``, ``--age-gender``): BlazeFace defined in ``keras_blazeface`` from the
shipped .tflite weights and batched across frames by ``batched_finder``, the trained .keras
age/gender model; on PyTorch with CUDA in the image.
Deployed by template.yaml (GpuWorkers > 0) from ``Dockerfile``; run locally by
``python -m infra.stack --gpu-worker``.
"""
