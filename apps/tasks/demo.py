"""Demo projects with real sample data (tests/fixtures), added by `manage.py seed_demo`."""

import csv
import io
import json
import shutil

import orjson
from django.conf import settings

from apps.projects.models import Project
from apps.projects.services import project_create

from .imports import tasks_import
from .models import Task

FIXTURES = settings.BASE_DIR / "tests" / "fixtures"
MANAGER = "manager@demo.test"

NER_SENTENCES = [
    ("Martin Scorsese shot the film in New York for Paramount.",
     [("Martin Scorsese", "PER"), ("New York", "LOC"), ("Paramount", "ORG")]),
    ("Greta Gerwig wrote the screenplay with Noah Baumbach in Los Angeles.",
     [("Greta Gerwig", "PER"), ("Noah Baumbach", "PER"), ("Los Angeles", "LOC")]),
    ("Studio Ghibli released the picture in Tokyo before Disney distributed it.",
     [("Studio Ghibli", "ORG"), ("Tokyo", "LOC"), ("Disney", "ORG")]),
    ("Critics at Rotten Tomatoes praised Viola Davis for her role.",
     [("Rotten Tomatoes", "ORG"), ("Viola Davis", "PER")]),
    ("The premiere in Cannes drew Pedro Almodovar and executives from Netflix.",
     [("Cannes", "LOC"), ("Pedro Almodovar", "PER"), ("Netflix", "ORG")]),
]

SPECS = {
    "Movie reviews (Rotten Tomatoes)": {
        "data": {"text": {"type": "text"}},
        "controls": {"sentiment": {"type": "choices", "to": "text", "required": True,
                                   "labels": [{"value": "fresh", "hotkey": "1"}, {"value": "rotten", "hotkey": "2"}]}},
    },
    "Named entities": {
        "data": {"text": {"type": "text"}},
        "controls": {"entities": {"type": "spans", "to": "text",
                                  "labels": [{"value": "PER", "hotkey": "p"}, {"value": "ORG", "hotkey": "o"},
                                             {"value": "LOC", "hotkey": "l"}]}},
    },
    "Handwritten digits": {
        "data": {"image": {"type": "image"}},
        "controls": {"digit": {"type": "choices", "to": "image", "required": True,
                               "labels": [{"value": str(d), "hotkey": str(d)} for d in range(10)]}},
    },
    "Quokka (boxes, polygons, keypoints)": {
        "data": {"image": {"type": "image"}},
        "controls": {
            "box": {"type": "bbox", "to": "image", "labels": [{"value": "quokka"}]},
            "polygon": {"type": "polygon", "to": "image", "labels": [{"value": "quokka"}]},
            "keypoints": {"type": "keypoints", "to": "image", "labels": [
                {"value": name} for name in ("ear_tip_left", "ear_tip_right", "eye_left", "eye_right", "nose",
                                             "paw_left", "paw_right")]},
        },
    },
}
INSTRUCTIONS = {
    "Movie reviews (Rotten Tomatoes)": "Is the critic's snippet **fresh** (positive) or **rotten** (negative)?",
    "Named entities": "Mark people (**PER**), organizations (**ORG**) and places (**LOC**).",
    "Handwritten digits": "Which digit is written? Press its key.",
    "Quokka (boxes, polygons, keypoints)": "Draw a box and an outline around the quokka; place its keypoints.",
}


def _copy_media(relative: str) -> str:
    """Copy a fixture image into the media storage; returns its storage key."""
    source = FIXTURES / relative
    target = settings.MEDIA_ROOT / "demo" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copyfile(source, target)
    return f"demo/{relative}"


def _rows(name: str) -> bytes:
    if name == "Movie reviews (Rotten Tomatoes)":
        return (FIXTURES / "rotten_tomatoes.jsonl").read_bytes()
    if name == "Named entities":
        tasks = []
        for text, entities in NER_SENTENCES:
            result = []
            for i, (span, label) in enumerate(entities):
                start = text.index(span)
                result.append({"id": f"e{i}", "from_name": "entities", "to_name": "text", "type": "labels",
                               "value": {"start": start, "end": start + len(span), "text": span, "labels": [label]}})
            tasks.append({"data": {"text": text}, "annotations": [{"completed_by": MANAGER, "result": result}]})
        return orjson.dumps(tasks)
    if name == "Handwritten digits":
        with (FIXTURES / "digits" / "labels.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        tasks = []
        for i, row in enumerate(rows):
            task = {"data": {"image": _copy_media(f"digits/{row['file']}")}, "meta": {"source": "scikit-learn digits"}}
            if i < 10:  # one known answer per digit: gold for quality control
                task["gold"] = {"result": [{"from_name": "digit", "to_name": "image", "type": "choices",
                                            "value": {"choices": [row["label"]]}}]}
            tasks.append(task)
        return orjson.dumps(tasks)
    regions = json.loads((FIXTURES / "quokka" / "annotations.json").read_text())
    return orjson.dumps([{"data": {"image": _copy_media("quokka/quokka.jpg")},
                          "annotations": [{"completed_by": MANAGER, "result": regions}]}])


def seed_demo_projects(*, organization, users) -> list[str]:
    manager = users[MANAGER]
    lines = []
    for name, spec in SPECS.items():
        if Project.objects.filter(organization=organization, name=name, deleted_at__isnull=True).exists():
            continue
        project = project_create(organization=organization, actor=manager, name=name, label_schema=spec,
                                 instructions=INSTRUCTIONS[name])
        fmt = "jsonl" if name.startswith("Movie") else "json"
        summary = tasks_import(project=project, actor=manager, stream=io.BytesIO(_rows(name)), fmt=fmt,
                               source=Task.Source.COMMAND)
        if summary["errors"]:
            raise RuntimeError(f"demo data for {name!r} did not import cleanly: {summary['errors'][:3]}")
        lines.append(f"project {project.pk} {name!r}: {summary['created']} tasks")
    return lines
