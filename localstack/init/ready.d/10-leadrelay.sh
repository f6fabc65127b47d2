#!/bin/bash
# LocalStack init hook (ready stage): what LeadRelay needs before the stack is
# deployed. The email delivery sends from leads@leadrelay.local, which SES
# only accepts from a verified identity.
set -euo pipefail

sender="${LEADRELAY_SES_SENDER:-leads@leadrelay.local}"
awslocal ses verify-email-identity --email-address "$sender"
echo "leadrelay: SES identity $sender verified"
echo "leadrelay: LocalStack ready for 'make localstack-deploy'"
