"""The verbs of the library, driven by a composed Hydra config (instantiate and OmegaConf are at home here).

One module per verb, each a function of a command's config that returns what it produced; the ``edaformer-*``
commands (:mod:`edaformer.cli`) compose the config, call one of them and report:

- :mod:`~edaformer.workflows.train`: ``train(cfg) -> TrainResult`` (fit, then evaluate under ISR settings)
- :mod:`~edaformer.workflows.evaluate`: ``evaluate(cfg) -> ResultRow``, ``evaluate_setting``, the result files
- :mod:`~edaformer.workflows.isr_table`: the paper's Table 4 from an ISR sweep
- :mod:`~edaformer.workflows.isr_search`, :mod:`~edaformer.workflows.predict`,
  :mod:`~edaformer.workflows.attention`, :mod:`~edaformer.workflows.export`, :mod:`~edaformer.workflows.benchmark`,
  :mod:`~edaformer.workflows.gpu_check`, :mod:`~edaformer.workflows.profile`,
  :mod:`~edaformer.workflows.complexity`, :mod:`~edaformer.workflows.datasets`, :mod:`~edaformer.workflows.prepare`
- :mod:`~edaformer.workflows.demo`: ``quick_demo_training`` (the notebooks' minutes-long run)
- :mod:`~edaformer.workflows.segmenter`: a :class:`~edaformer.evaluation.Segmenter` from a config
- :mod:`~edaformer.workflows.components`, :mod:`~edaformer.workflows.checkpoint`,
  :mod:`~edaformer.workflows.runtime`: the parts they share (DataModule, loggers, callbacks, ``ckpt_path=``,
  what the command line gave)
"""
