"""A faster training step for the seed CNN: the same model, the same
gradients, through the rewritten forward pass of
:mod:`digitsuite.inference.forward`."""

from digitsuite.backend import keras, tf
from digitsuite.inference.forward import seed_cnn_forward


def install(model):
    """Give the compiled ``model`` the fast training step if it is the seed
    CNN on one replica; return True if it now has it.

    The step follows Keras' own (loss, gradients, optimizer, loss tracker
    and compiled metrics) with only the forward pass swapped.
    """
    forward = seed_cnn_forward(model)
    if forward is None or model.distribute_strategy.num_replicas_in_sync != 1:
        return False
    loss_tracker = next(m for m in model.metrics if m.name == "loss")

    def train_step(data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = forward(x, training=True)
            # compute_loss defaults to training=True; Keras < 3.3 has no such argument.
            loss = model.compute_loss(x, y, y_pred, sample_weight)
        loss_tracker.update_state(loss, sample_weight=tf.shape(x)[0])
        weights = model.trainable_weights
        model.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return model.compute_metrics(x, y, y_pred, sample_weight)

    model.train_step = train_step
    model.train_function = None  # rebuild fit's compiled function with this step
    return True
