#!/bin/sh
# The deploy's `update` command: points the app's `current` tag at the version the push
# names by its tag (a push of refs/tags/v2 deploys version v2). It runs inside the
# webhook_handler container, without a shell around it, with the push's facts in its
# environment (WEBHOOK_TAG and friends).
set -eu
version=${WEBHOOK_TAG:-}
image=${APP_IMAGE:-example/app}
if [ -z "$version" ]; then
  echo "push a tag (v1, v2, v3 or v4) to deploy that version" >&2
  exit 2
fi
if ! docker image inspect "$image:$version" >/dev/null 2>&1; then
  echo "there is no image $image:$version" >&2
  exit 2
fi
docker tag "$image:$version" "$image:current"
echo "$image:current is now $version"
