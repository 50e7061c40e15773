"""What ``sedstudy resume`` needs to relaunch a study: its YAML and the settings it was launched with."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from reports.contract import STUDY_YAML_ARTIFACT, find_study_parent, launch_tag
from sed_core.errors import SedStudyError
from studies.store_relocation import local_store_uri
from studies.study_ref import is_study_file, require_store, unknown_study
from studies.tracking import default_tracking_uri, open_client


@dataclass(frozen=True)
class ResumePlan:
    study: str
    study_path: Path
    workdir: Path
    tracking_uri: str
    address: str | None
    storage: str | None


def resume_plan(study: str, *, workdir: Path, tracking_uri: str | None) -> ResumePlan:
    """A YAML path resumes as it is; a study name is looked up in the tracking store of ``workdir``."""
    path = Path(study)
    if is_study_file(path):
        if not path.is_file():
            raise SedStudyError(f"{path}: no such study file")
        from studies.definition import load_study

        name = load_study(path).name
        uri = tracking_uri or local_store_uri(workdir)
        return ResumePlan(name, path, workdir, uri, None, None)
    uri = tracking_uri or local_store_uri(workdir)
    require_store(uri)
    client = open_client(uri)
    experiment = client.get_experiment_by_name(study)
    parent = None if experiment is None else find_study_parent(client, experiment.experiment_id, study)
    if parent is None:
        raise unknown_study(study, uri, client)
    tags = parent.data.tags
    launched_in = Path(tags.get(launch_tag("workdir")) or workdir)
    if uri == default_tracking_uri(workdir) or not launched_in.is_dir():
        launched_in = workdir  # the store is this work directory's own, or the one it was launched in moved
    saved = launched_in / ".sedstudy" / f"{study}.yaml"
    saved.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(client.download_artifacts(parent.info.run_id, STUDY_YAML_ARTIFACT, tmp)).read_text(encoding="utf-8")
    saved.write_text(text, encoding="utf-8")
    return ResumePlan(study, saved, launched_in, uri, tags.get(launch_tag("address")) or None,
                      tags.get(launch_tag("storage")) or None)
