"""The model runtime: everything that touches the model and its tensors.

Loading (`model`, `weights`, `gguf_weights`, `quant`, `placement`, `device`), the forward pass
and its compiled steps (`forward`, `compute`, `graphs`), the engine that batches requests and
reuses prompt prefixes (`engine`, `kv`, `sequences`, `decoder`, `speculative`, `stopping`),
LoRA adapters (`adapters`), and the backends the pipeline calls (`backends`: local, replay;
`remote`: an OpenAI-compatible server). `generate` holds the sampling parameters and the
stage names. Nothing outside this package imports torch. Its only shared types are
`types.Generation` and `types.FinishReason`.
"""
