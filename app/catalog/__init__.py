"""The catalog: every data file of a data folder, read and validated once.

:meth:`Catalog.load` reads a data folder (``$CJSIM_DATA_DIR``, else the repository's
``data/``) and validates all of it before anything runs:

==========================  ==============================================================
attribute                   files
==========================  ==============================================================
``scenarios``               ``scenarios/*.yaml`` (:class:`~app.scenarios.ItemCatalog`)
``personas``                ``merchants/*.yaml`` (:class:`~app.scenarios.ItemCatalog`)
``workflows``               ``workflow_definitions.yaml`` (:class:`~app.workflows.WorkflowCatalog`)
``intents``                 ``intents.yaml`` (:class:`~app.intents.IntentCatalog`)
``milestones``              ``milestones.yaml`` (:class:`~app.stages.Milestones`)
``prompts.system``          ``prompts/<name>_v<N>.md`` (:class:`~app.catalog.system_prompts.SystemPrompts`)
``prompts.rule_cj``         ``prompts/rule_cj.yaml``: the rule-based CJ's templates
``prompts.merchant_script`` ``prompts/scripted_merchant.yaml``: the scripted merchant's phrasing
``prompts.defects``         ``prompts/defects.yaml``: wording of the defective CJ variants
``evaluation``              ``evaluation.yaml``: the evaluators' settings
``rubrics``                 ``rubrics.yaml``: the judge's rubric library
==========================  ==============================================================

Each file is read as UTF-8 with a YAML loader that rejects a key written twice, validated by
its strict model, and then every reference between files is checked
(:mod:`app.catalog.references`). The first problem raises
:class:`~app.errors.DataFileError` naming the file, the field and the fix, so a broken
prompt or script fails before any conversation starts.

A catalog is immutable and is passed explicitly: to a run (``RunConfig.catalog``), to
``DataAgent.create``, to model factories and evaluator factories, to batches (each worker
process receives it once). :meth:`Catalog.default` is the one shared instance behind the
convenience functions (``get_scenario``, ``workflows()``, a model built without a catalog);
it is reloaded when ``$CJSIM_DATA_DIR`` changes.

Example:
    >>> catalog = Catalog.load()
    >>> catalog.scenarios.get("churn_spike").stress_level.value
    'critical'
    >>> catalog.workflows.get("crisis_response").initiator
    'merchant'
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from app import datafiles
from app.catalog.system_prompts import SystemPrompts
from app.datafiles import load_model
from app.errors import DataFileError
from app.formats.defects import DefectWording
from app.formats.evaluation import EvaluationSettings
from app.formats.merchant_script import MerchantScript
from app.formats.rubrics import RubricLibrary
from app.formats.rule_cj import RuleCJTemplates
from app.intents import IntentCatalog
from app.models import Persona, Scenario
from app.scenarios import ItemCatalog
from app.stages import Milestones
from app.workflows import WorkflowCatalog

__all__ = ["Catalog", "CatalogPaths", "Prompts"]


@dataclass(frozen=True)
class CatalogPaths:
    """Where each kind of file lives in a data folder."""

    root: Path

    @property
    def scenarios(self) -> Path:
        return self.root / "scenarios"

    @property
    def personas(self) -> Path:
        return self.root / "merchants"

    @property
    def workflows(self) -> Path:
        return self.root / "workflow_definitions.yaml"

    @property
    def intents(self) -> Path:
        return self.root / "intents.yaml"

    @property
    def milestones(self) -> Path:
        return self.root / "milestones.yaml"

    @property
    def prompts(self) -> Path:
        return self.root / "prompts"

    @property
    def rule_cj(self) -> Path:
        return self.prompts / "rule_cj.yaml"

    @property
    def merchant_script(self) -> Path:
        return self.prompts / "scripted_merchant.yaml"

    @property
    def defects(self) -> Path:
        return self.prompts / "defects.yaml"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation.yaml"

    @property
    def rubrics(self) -> Path:
        return self.root / "rubrics.yaml"


@dataclass(frozen=True, repr=False)
class Prompts:
    """Everything under ``prompts/``: system prompts and the offline models' wording."""

    system: SystemPrompts
    rule_cj: RuleCJTemplates
    merchant_script: MerchantScript
    defects: DefectWording


class Catalog:
    """Every data file of one data folder, validated, with the references between them checked.

    Build one with :meth:`load` (or use :meth:`default`); the attributes are listed in the
    module docstring.
    """

    def __init__(
        self,
        paths: CatalogPaths,
        *,
        scenarios: ItemCatalog[Scenario],
        personas: ItemCatalog[Persona],
        workflows: WorkflowCatalog,
        intents: IntentCatalog,
        milestones: Milestones,
        prompts: Prompts,
        evaluation: EvaluationSettings,
        rubrics: RubricLibrary,
    ) -> None:
        self.paths = paths
        self.scenarios = scenarios
        self.personas = personas
        self.workflows = workflows
        self.intents = intents
        self.milestones = milestones
        self.prompts = prompts
        self.evaluation = evaluation
        self.rubrics = rubrics

    @property
    def data_dir(self) -> Path:
        """The data folder this catalog was read from."""
        return self.paths.root

    def __repr__(self) -> str:
        return f"Catalog({str(self.paths.root)!r})"

    @classmethod
    def load(cls, data_dir: str | Path | None = None) -> Catalog:
        """Read and validate every file of ``data_dir`` (default: ``$CJSIM_DATA_DIR``, else ``data/``).

        Raises:
            DataFileError: a missing, unreadable, non-UTF-8, malformed or invalid file, a
                duplicated YAML key, or a reference to something no file defines; the message
                names the file, the field and the fix.
        """
        from app.catalog.references import check_references  # it names the catalog in its own signatures

        paths = CatalogPaths(Path(data_dir) if data_dir is not None else datafiles.data_dir())
        if not paths.root.is_dir():
            raise DataFileError(f"{paths.root}: data folder not found; point CJSIM_DATA_DIR at a copy of data/")
        catalog = cls(
            paths,
            scenarios=ItemCatalog.load("scenario", paths.scenarios, Scenario),
            personas=ItemCatalog.load("merchant", paths.personas, Persona),
            workflows=WorkflowCatalog.load(paths.workflows),
            intents=IntentCatalog.load(paths.intents),
            milestones=Milestones.load(paths.milestones),
            prompts=Prompts(
                system=SystemPrompts.load(paths.prompts),
                rule_cj=load_model(paths.rule_cj, RuleCJTemplates),
                merchant_script=load_model(paths.merchant_script, MerchantScript),
                defects=load_model(paths.defects, DefectWording),
            ),
            evaluation=load_model(paths.evaluation, EvaluationSettings),
            rubrics=load_model(paths.rubrics, RubricLibrary),
        )
        check_references(catalog)
        return catalog

    @classmethod
    def default(cls) -> Catalog:
        """The shared catalog of the current data folder, loaded on first use and again when
        ``$CJSIM_DATA_DIR`` points elsewhere."""
        global _default
        folder = datafiles.data_dir()
        current = _default
        if current is not None and current.paths.root == folder:
            return current
        with _default_lock:
            if _default is None or _default.paths.root != folder:
                _default = cls.load(folder)
            return _default


_default: Catalog | None = None
_default_lock = threading.Lock()
