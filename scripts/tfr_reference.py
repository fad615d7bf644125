"""TensorFlow and TF-Ranking reference for the MLP + top-k Plackett-Luce distillation step.

The same step as `rankdistil bench --suite reference` and scripts/torch_reference.py: scorer
136 -> H -> H -> 1 on [B, N, F] lists, Adam (lr 1e-3), and a top-k Plackett-Luce loss of the
student's scores in the teacher's order (k = 10), compiled with tf.function as TF users run it.

    python3 scripts/tfr_reference.py tf  B N H STEPS    # the loss written in TF ops
    python3 scripts/tfr_reference.py tfr B N H STEPS    # tfr.keras.losses.CoupledRankDistilLoss

Prints one line: `<name>: B=.. N=.. F=.. H=..: <steps/s> steps/s, ...`.
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402


def model_of(f, h):
    return tf.keras.Sequential(
        [
            tf.keras.layers.Dense(h, activation="relu", input_shape=(None, f)),
            tf.keras.layers.Dense(h, activation="relu"),
            tf.keras.layers.Dense(1),
        ]
    )


def top_k_pl(k):
    """The loss in TF ops: sort by the teacher, reverse log-cumsum-exp, first k positions."""

    def loss(teacher, student):
        order = tf.argsort(teacher, axis=1, direction="DESCENDING")
        s = tf.gather(student, order, batch_dims=1)
        lse = tf.reverse(tf.math.cumulative_logsumexp(tf.reverse(s, [1]), axis=1), [1])
        b = tf.cast(tf.shape(s)[0], s.dtype)
        return tf.reduce_sum((lse - s)[:, :k]) / b

    return loss


def coupled_rank_distil(k):
    """TF-Ranking's own RankDistil loss: one Plackett-Luce sample of the teacher's top k."""
    import tensorflow_ranking as tfr

    tfr_loss = tfr.keras.losses.CoupledRankDistilLoss(sample_size=1, topk=k)

    def loss(teacher, student):
        return tfr_loss(teacher, student)

    return loss


def run(kind, b, n, h, steps, f=136, k=10):
    tf.random.set_seed(7)
    model = model_of(f, h)
    opt = tf.keras.optimizers.Adam(learning_rate=1e-3)
    x = tf.random.normal([b, n, f])
    t = tf.random.normal([b, n])
    loss_fn = top_k_pl(k) if kind == "tf" else coupled_rank_distil(k)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            s = tf.squeeze(model(x, training=True), -1)
            loss = loss_fn(t, s)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    value = float(loss)
    dt = time.perf_counter() - t0
    flops = 6.0 * b * n * (f * h + h * h + h) * steps
    name = "tf" if kind == "tf" else "tf-ranking"
    print(
        f"{name}: B={b} N={n} F={f} H={h}: {steps / dt:.2f} steps/s, "
        f"{flops / dt / 1e9:.2f} GFLOP/s (mlp only), loss {value:.4f}"
    )


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("tf", "tfr"):
        sys.exit("usage: tfr_reference.py tf|tfr [B N H STEPS]")
    defaults = ["32", "128", "256", "20"]
    given = sys.argv[2:6]
    b, n, h, steps = (int(a) for a in given + defaults[len(given):])
    run(sys.argv[1], b, n, h, steps)
