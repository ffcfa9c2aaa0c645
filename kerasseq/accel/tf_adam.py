"""Keras's Adam on TensorFlow as one fused kernel per variable.

Keras 3.15 updates each variable in its Adam step with about ten separate graph operations,
each a pass over the variable (the moments' differences and products, the square root,
the quotient, three assignments); on the blog CRNN's 6.6 million weights these took about
a tenth of a bfloat16 training step on a 2-core CPU (measurements in
``docs/measurements.md``). TensorFlow's ``ResourceApplyAdam`` kernel computes the same step,
Keras's formula with the epsilon added to the square root of the second moment, in one pass
that updates the variable and both moments in place. Its route (``tf_fused_adam`` in
:mod:`kerasseq.accel`), :func:`use_fused_adam`, sends the update step of Keras's ``Adam``
(and so ``AdamW``, whose weight decay Keras applies before the step) there. The results are
Keras's to float32 rounding. AMSGrad, sparse gradients (``tf.IndexedSlices``), variables
other than float32 and a distribution strategy are left to Keras, as is every other
optimizer and backend; what Keras applies around the step is unchanged.
"""

from kerasseq.accel.keras_routes import keras_original, replace


def use_fused_adam(enabled=True):
    """Route (``enabled``) or stop routing the update step of Keras's Adam on the
    TensorFlow backend to ``ResourceApplyAdam``. Idempotent; a no-op on other backends.
    Takes effect for training functions traced afterwards."""
    from keras.src.optimizers import adam

    replace("tensorflow", adam.Adam, "update_step", _fused_update_step, enabled)


def _keras_update_step(self, gradient, variable, learning_rate):
    """Keras's own ``Adam.update_step``, for the cases the route leaves to it."""
    from keras.src.optimizers import adam

    return keras_original(adam.Adam, "update_step")(self, gradient, variable, learning_rate)


def _fused_update_step(self, gradient, variable, learning_rate):
    """``Adam.update_step``: one step on ``variable`` (a ``tf.Variable``) from its
    ``gradient`` (same shape) at ``learning_rate`` (a scalar), the moments kept in the
    optimizer's own variables."""
    import tensorflow as tf

    if (self.amsgrad or isinstance(gradient, tf.IndexedSlices) or not isinstance(variable, tf.Variable)
            or variable.dtype != tf.float32 or tf.distribute.has_strategy()):
        return _keras_update_step(self, gradient, variable, learning_rate)
    index = self._get_variable_index(variable)
    step = tf.cast(self.iterations + 1, tf.float32)
    beta_1, beta_2 = tf.constant(self.beta_1, tf.float32), tf.constant(self.beta_2, tf.float32)
    return tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=self._momentums[index].value.handle, v=self._velocities[index].value.handle,
        beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, tf.float32),
        beta1=beta_1, beta2=beta_2, epsilon=tf.constant(self.epsilon, tf.float32), grad=tf.cast(gradient, tf.float32))
