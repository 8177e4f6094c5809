"""The built template as the Serverless Application Repository takes it: one architecture.

    .venv/bin/python tests/sam-local/sar_template.py <arm64|x86_64> .aws-sam/build/template.yaml .aws-sam/build/sar.yaml

SAR refuses a template whose `Architectures` is a parameter ("Cannot publish application with
ARM64 support", https://github.com/aws/aws-sam-cli/issues/3346 and
https://github.com/aws/serverless-application-model/issues/2168, open), so each published version
is built for one architecture: `Architectures` becomes that literal and the `Architecture`
parameter goes. Written beside the built template, whose relative paths (CodeUri, LicenseUrl,
ReadmeUrl) `sam build` has already rewritten, so `sam package` finds them.
"""

import json
import sys
from pathlib import Path

from samcli.yamlhelper import yaml_dump, yaml_parse


def fix_architecture(template, arch):
    if arch not in template["Parameters"]["Architecture"]["AllowedValues"]:
        raise SystemExit(f"sar_template: {arch} is not one of the Architecture parameter's values")
    del template["Parameters"]["Architecture"]
    template["Globals"]["Function"]["Architectures"] = [arch]
    if '{"Ref": "Architecture"}' in json.dumps(template, separators=(", ", ": ")):
        raise SystemExit("sar_template: the Architecture parameter is used outside Globals")
    return template


def main():
    arch, source, target = sys.argv[1:4]
    template = fix_architecture(yaml_parse(Path(source).read_text()), arch)
    Path(target).write_text(yaml_dump(template))
    print(f"{target}: Architectures [{arch}]")


if __name__ == "__main__":
    main()
