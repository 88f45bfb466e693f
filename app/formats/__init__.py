"""Formats of the data files that the offline models and the evaluators read.

Each module is the strict pydantic model of one file under ``data/`` (the models of personas,
scenarios and workflows are in :mod:`app.models`):

* :mod:`app.formats.rule_cj` -- ``prompts/rule_cj.yaml``, the rule-based CJ's templates;
  :mod:`app.formats.templating` is the template language they are written in;
* :mod:`app.formats.merchant_script` -- ``prompts/scripted_merchant.yaml``;
* :mod:`app.formats.defects` -- ``prompts/defects.yaml``;
* :mod:`app.formats.evaluation` -- ``evaluation.yaml``, the evaluators' settings.

They sit below :class:`~app.catalog.Catalog`, which loads every file, and below the packages
that use them (:mod:`app.policies`, :mod:`app.evaluation`), so the catalog never imports the
code it configures.
"""
