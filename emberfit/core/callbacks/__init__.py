"""Callbacks: code that runs at fixed points of the ``fit`` loop, one module per job.

- ``base``: the event list (``EVENTS``), the ``Callback`` base class, ``CancelFitException``;
- ``recorder``: the ``Recorder`` (``learn.recorder``: losses, LRs, metrics and their plots);
- ``progress``: the ``ProgressBar`` and the results table;
- ``training``: ``OneCycleScheduler``, ``LRFinder``, ``GradientClipping`` and ``CSVLogger``;
- ``tracker``: ``TrackerCallback``, ``EarlyStoppingCallback``, ``SaveModelCallback`` (checkpoints),
  ``ReduceLROnPlateauCallback``: built as emberfit's or, with the learner first, as fastai v1's;
- ``v1_events``: ``LearnerCallback`` and the adapter that gives callbacks written for v1 their
  ``on_*`` events;
- ``precision``: ``MixedPrecision`` (``learn.to_fp16()`` / ``to_bf16()``) and ``cpu_has_fast_bf16``;
- ``ddp``: ``DistributedTrainer`` (``learn.to_distributed()``).

Nothing here imports the Learner: a callback knows its learner by the attributes it reads.
Import each name from its module (the lesson's names are also in the ``emberfit.core`` facade).
"""
