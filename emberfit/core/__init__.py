"""emberfit.core: the engine (data, learner, callbacks, schedule, optim, metrics, plots, io)."""
