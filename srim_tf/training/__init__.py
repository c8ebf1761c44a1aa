"""Training: conditional IMLE (paper 2.2-2.4) and the loop around it.

`selection` (pure, per replica) chooses each input's nearest codes, per image or per patch
(`patchwise`), by `distances`; `code_pool` keeps chosen codes for reuse; `imle` is the Keras
model whose `train_step` is the gradient step; `loop` runs it with checkpoints, resume and
TensorBoard (`summaries`) in a `workdir`, from the run's `srim_tf.settings.RunSettings`,
built by `build`.
Nothing under inference/ or serving/ imports this package.
"""
