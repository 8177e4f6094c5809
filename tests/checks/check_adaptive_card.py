"""Microsoft Teams payloads checked against the Adaptive Card schema 1.4 (run by the testbed's
`tests/tests/task_alerts_teams.rs`, which writes the payloads task-alerts renders).

    python check_adaptive_card.py SCHEMA PAYLOAD.json [PAYLOAD.json ...]

Each payload is what task-alerts POSTs to a Teams Workflows webhook: a Bot Framework `message` with
one attachment of content type `application/vnd.microsoft.card.adaptive`, whose `content` is the
card ("When a Teams webhook request is received" takes Adaptive Cards only:
https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using).

- The card must declare `"version": "1.4"`: Workflows refuse cards above 1.4 (see
  functions/task-alerts/src/message/teams.rs), and the schema checked is 1.4's.
- The card must validate against SCHEMA (JSON Schema draft-06, as published by Microsoft; the copy
  in tests/fixtures/task-alerts/ and where it comes from are described in README.md there), with
  `jsonschema` (pinned in tests/requirements.txt) and its format checker.
- `msteams` is Teams' own extension of the card, outside the generic schema (whose `AdaptiveCard`
  allows no other property): "You can use the msteams property to expand the width of an Adaptive
  Card" (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-format).
  It may only be `{"width": "Full"}`; it is taken out before the schema check.

Prints one summary line, or one line per problem (file, JSON path, what is wrong) and exits 1.
"""

import json
import sys

import jsonschema

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
TEAMS_EXTENSION = {"width": "Full"}


def problems(payload, validator):
    """What is wrong with one Teams payload, as (JSON path, message) pairs."""
    if not isinstance(payload, dict) or payload.get("type") != "message":
        return [("$", 'not a Bot Framework message: `type` must be "message"')]
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return [("$.attachments", "must be a list of exactly one attachment")]
    attachment = attachments[0]
    if not isinstance(attachment, dict) or attachment.get("contentType") != CONTENT_TYPE:
        return [("$.attachments[0].contentType", f"must be {CONTENT_TYPE}")]
    card = attachment.get("content")
    if not isinstance(card, dict):
        return [("$.attachments[0].content", "must be the card, an object")]
    found = []
    card = dict(card)
    extension = card.pop("msteams", TEAMS_EXTENSION)
    if extension != TEAMS_EXTENSION:
        found.append(("$.attachments[0].content.msteams", f"must be {json.dumps(TEAMS_EXTENSION)}"))
    if card.get("version") != "1.4":
        found.append(("$.attachments[0].content.version", f'must be "1.4", not {card.get("version")!r}'))
    seen = set()
    for error in validator.iter_errors(card):
        for reason in reasons(error):
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in reason.absolute_path)
            if (path, reason.message) not in seen:
                seen.add((path, reason.message))
                found.append((f"$.attachments[0].content{path}", reason.message[:300]))
    return found


def reasons(error):
    """The errors that say what is wrong. The schema lists the card, each element and each action as an
    `anyOf` over every type, so a bad TextBlock fails every branch: keep the branches of its own
    `type` (those that do not fail on `type` itself), and the `anyOf` error only when no branch is."""
    if error.validator != "anyOf" or not error.context:
        return [error]
    branches = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    depth = len(error.absolute_path)

    def other_type(sub):
        return sub.validator == "enum" and list(sub.absolute_path)[depth:] == ["type"]

    kept = [subs for subs in branches.values() if not any(other_type(sub) for sub in subs)]
    if not kept:
        return [error]
    return [reason for subs in kept for sub in subs for reason in reasons(sub)]


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    failed = 0
    for name in argv[2:]:
        with open(name, encoding="utf-8") as f:
            payload = json.load(f)
        for path, message in problems(payload, validator):
            failed += 1
            print(f"{name}: {path}: {message}")
    if failed:
        return 1
    print(f"adaptive cards: {len(argv) - 2} Teams payloads valid against {schema.get('id', argv[1])} (version 1.4)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
