"""The data-block API: items -> split -> label -> (add_test) -> databunch, one module per stage.

``ItemList.from_df(...).split_by_rand_pct(0.2).label_from_df('y').databunch(bs=64)``

- ``processor``: :class:`PreProcessor`, fitted on the training items, applied to every split;
- ``items``: :class:`ItemList` (constructors, filters, the ``split_*`` methods, tensors, loaders);
- ``labels``: the label lists (``CategoryList``, ``MultiCategoryList``, ``FloatList``,
  ``EmptyLabelList``) and their processors;
- ``labelling``: ``ItemLists`` (split, waiting for labels), ``LabelList``, ``LabelLists``
  (processing, ``add_test``, ``databunch``, saving without pickle) and :func:`load_data`.

Data flows one way: ``labelling`` uses ``labels``, which are ItemLists (``items``). A split
ItemList becomes an ``ItemLists``; ``labelling`` declares that default (``ItemList.item_lists_cls``).
Import each name from its module (the lesson's names are also in the ``emberfit.core`` facade).
"""
