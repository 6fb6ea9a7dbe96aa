#!/bin/sh
# Example deploy script for webhook_handler (the spec's ACTION_SCRIPT=/app/scripts/deploy.sh,
# mounted from ./scripts by docker-compose.yml). It runs without a shell around it, once per
# accepted push, with the delivery's facts in its environment:
#   WEBHOOK_EVENT, WEBHOOK_REPO, WEBHOOK_REF, WEBHOOK_BRANCH, WEBHOOK_TAG, WEBHOOK_COMMIT,
#   WEBHOOK_PUSHER, WEBHOOK_DELIVERY, WEBHOOK_HOOK, WEBHOOK_JOB_ID, WEBHOOK_PAYLOAD_FILE.
# Use them as data ("$WEBHOOK_COMMIT"), never inside eval or sh -c strings.
set -eu
echo "Deploying ${WEBHOOK_REPO:-(no repository)} ${WEBHOOK_REF:-} at ${WEBHOOK_COMMIT:-(no commit)} (delivery ${WEBHOOK_DELIVERY:-none})"
# Replace with your own steps, for example:
#   git -C /srv/app fetch --depth 1 origin "$WEBHOOK_COMMIT" && git -C /srv/app checkout "$WEBHOOK_COMMIT"
#   docker compose -f /srv/app/docker-compose.yml up -d --build api
echo "Nothing to deploy in the example script."
