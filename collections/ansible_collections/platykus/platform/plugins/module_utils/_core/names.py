# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One home for the names and small rules the collection shares.

Labels, annotations, object names, pod-security levels and currencies are defined here once
and imported everywhere; a selector is derived from the label it selects, so the two cannot
drift apart.
"""

from __future__ import annotations

# -- labels -------------------------------------------------------------------------------------
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "platykus"
TENANT_LABEL = "platykus.io/tenant"
ENVIRONMENT_LABEL = "platykus.io/environment"
COST_CENTER_LABEL = "platykus.io/cost-center"
PLAN_LABEL = "platykus.io/plan"
DATA_SERVICE_LABEL = "platykus.io/data-service"
SERVICE_LABEL = "platykus.io/service"
AUDIT_LABEL = "platykus.io/audit"
PLATFORM_LABEL = "platykus.io/platform"
# Apps (see _apps/spec.py): every object of an app carries APP_LABEL, its pods also PROCESS_LABEL.
APP_LABEL = "platykus.io/app"
PROCESS_LABEL = "platykus.io/process"
# Add-ons (see _addons/catalog.py): their Secret, Service and operator objects carry DATA_SERVICE_LABEL
# (value: the type) and ADDON_LABEL (value: the add-on's name).
ADDON_LABEL = "platykus.io/addon"
# -- AWS tag keys: one scheme on every AWS resource (Kubernetes labels above are platykus.io/<key>,
# AWS tags platykus:<key>); activate them as cost-allocation tags (docs/aws.md).
AWS_CLUSTER_TAG = "platykus:cluster"
AWS_TENANT_TAG = "platykus:tenant"  # Cost Explorer groups by it (_cost.aws_costs)
AWS_COST_CENTER_TAG = "platykus:cost-center"  # AWS Budgets filter on it (_cost.aws_budgets)
AWS_MANAGED_BY_TAG = "platykus:managed-by"
AWS_SERVICE_TAG = "platykus:service"
AWS_ADDON_TAG = "platykus:addon"
AWS_DATA_SERVICE_TAG = "platykus:data-service"
# Cost published to tenants (_cost/publish.py): a ConfigMap in each tenant namespace their viewer
# role reads, and the per-tenant recording rules (a ConfigMap on the lab, a PrometheusRule elsewhere).
COST_REPORT_CONFIGMAP = "platykus-cost-report"
COST_RULES_NAME = "platykus-cost-rules"
COST_FIELD_MANAGER = "platykus-cost"

# -- annotations --------------------------------------------------------------------------------
DISPLAY_NAME_ANNOTATION = "platykus.io/display-name"
# Set on a Namespace that existed before Platykus took it over (spec ``adopt: true``):
# offboarding then removes only Platykus's objects from it and leaves the namespace.
ADOPTED_ANNOTATION = "platykus.io/adopted"
BUDGET_ANNOTATION_PREFIX = "platykus.io/budget-"
BUDGET_STATUS_ANNOTATION = "platykus.io/budget-status"
BUDGET_ORIGINAL_PODS_ANNOTATION = "platykus.io/budget-original-pods"
# On an app's pod templates: a config change changes the checksum, which rolls the pods.
CONFIG_CHECKSUM_ANNOTATION = "platykus.io/config-checksum"
RELEASE_ANNOTATION = "platykus.io/release"
# On an add-on's Secret: the plan and the provider it was made with.
ADDON_PLAN_ANNOTATION = "platykus.io/addon-plan"
ADDON_PROVIDER_ANNOTATION = "platykus.io/addon-provider"
# external-secrets refreshes an ExternalSecret at once when this annotation changes (add-on rotation).
ES_FORCE_SYNC_ANNOTATION = "force-sync"

# -- object names -------------------------------------------------------------------------------
QUOTA_NAME = "tenant-quota"
LIMITS_NAME = "tenant-limits"
CI_SERVICE_ACCOUNT = "ci-deployer"
TENANT_ROLES = ("admin", "developer", "viewer")
ROLE_NAMES = {role: "tenant-%s" % role for role in TENANT_ROLES}
NETWORK_POLICY_NAMES = ("default-deny", "allow-dns", "allow-same-tenant", "allow-from-ingress", "allow-egress-cidrs")
# Cluster-wide admission policy (no webhook) that refuses long-lived ServiceAccount token
# Secrets in tenant namespaces; its binding selects namespaces by TENANT_LABEL.
SA_TOKEN_POLICY_NAME = "platykus-deny-sa-token-secrets"
SA_TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
# Cluster-wide admission policy refusing Ingress and DNS hostnames outside the namespace's domains.
HOSTNAME_POLICY_NAME = "platykus-tenant-hostnames"
# Cluster-wide admission policy refusing UPDATE and DELETE of add-on connection Secrets (ADDON_LABEL)
# in tenant namespaces by anyone but the platform's identities (_admission/addon_secrets.py): the groups below
# (system:masters: the lab's admin; PLATFORM_GROUP: map the identity that runs the playbooks to it
# where cluster-admin is not system:masters, e.g. an EKS access entry's kubernetesGroups) and the
# control plane's own controllers (namespace deletion, garbage collection).
ADDON_SECRET_POLICY_NAME = "platykus-protect-addon-secrets"
PLATFORM_GROUP = "platykus:platform"
PLATFORM_WRITER_GROUPS = ("system:masters", PLATFORM_GROUP)
# Its companion for ExternalSecrets (the aws provider delivers add-on Secrets through them): tenants
# may not change the platform's add-on ExternalSecrets nor make one that writes an add-on Secret.
ADDON_EXTERNALSECRET_POLICY_NAME = "platykus-protect-addon-externalsecrets"
# external-secrets' controller (the catalog's release `external-secrets` in platykus-system, under
# the ServiceAccount its chart creates): the one writer of Secrets an ExternalSecret delivers.
EXTERNAL_SECRETS_USER = "system:serviceaccount:platykus-system:external-secrets"
# Secrets holding an AWS access key the platform made for a tenant (value: the tenant). They live in a
# platform namespace only; the audit (PLK-CRED-1) fails while any tenant role can read one.
AWS_ACCESS_KEY_LABEL = "platykus.io/aws-access-key"
# On a tenant's ClusterSecretStore: the id (not the secret) of the key it uses, so the store changes
# when the key does (external-secrets' optional AWS session cache is keyed on the store's version).
AWS_ACCESS_KEY_ID_ANNOTATION = "platykus.io/aws-access-key-id"
# The platform's ClusterIssuer (catalog/services.yml, cert-manager) that signs tenants' certificates.
PLATFORM_CLUSTER_ISSUER = "platykus-default"
# Scheduling and Services (_admission/workloads.py): the PriorityClasses the platform makes for tenants
# (all below the platform's own, roles/platform_base; none may preempt), the first of them what a
# plan allows by default; the namespace annotation listing a tenant's allowed classes (written at
# onboarding from its plan); the admission policies on pods and their templates and on Services;
# the ResourceQuota giving pods of any other class a quota of zero.
TENANT_PRIORITY_CLASSES = ("platykus-tenant", "platykus-tenant-high")
DEFAULT_TENANT_PRIORITY_CLASSES = ("platykus-tenant",)
PRIORITY_CLASSES_ANNOTATION = "platykus.io/priority-classes"
PRIORITY_POLICY_NAME = "platykus-tenant-priority"
SERVICE_POLICY_NAME = "platykus-tenant-services"
PRIORITY_QUOTA_NAME = "tenant-quota-priority"
# cert-manager's API version, and the label on the platform CA's Secret (_platform/ca.py: the root
# the CA ClusterIssuer signs with, made by the platform with pathlen 0 and name constraints).
CERT_MANAGER_API_VERSION = "cert-manager.io/v1"
PLATFORM_CA_LABEL = "platykus.io/platform-ca"

# -- the field manager every server-side apply uses ----------------------------------------------
FIELD_MANAGER = "platykus"
# tenant_budget owns the budget annotations and the lowered pods limit under a manager of its own,
# so onboarding's applies never take them back.
BUDGET_FIELD_MANAGER = "platykus-budget"

# -- rules --------------------------------------------------------------------------------------
POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")
# ISO 4217 codes Platykus accepts. Budgets and prices must use the same one: nothing is converted.
CURRENCIES = (
    "AED", "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF",
    "ILS", "INR", "JPY", "KRW", "MXN", "NOK", "NZD", "PLN", "SEK", "SGD", "USD", "ZAR",
)  # fmt: skip
# A budget that names no currency is in USD, everywhere (onboarding, budgets, usage report);
# a report whose prices are in another currency refuses it rather than reading it as that currency.
DEFAULT_CURRENCY = "USD"


def selector(label: str, value: str) -> str:
    """A label selector for ``label=value``."""
    return "%s=%s" % (label, value)


MANAGED_SELECTOR = selector(MANAGED_BY_LABEL, MANAGED_BY_VALUE)


def tenant_selector(tenant: str) -> str:
    return selector(TENANT_LABEL, tenant)


# Every add-on connection Secret is named addon-<name> in the tenant's namespace.
ADDON_SECRET_PREFIX = "addon-"

# -- API versions: each group/version the collection reads or writes, named once (the core group's
# "v1" is written as is). cert-manager's is CERT_MANAGER_API_VERSION above. A unit test
# (test_one_home.py) fails on a group/version string anywhere else in module_utils.
ADMISSION_API_VERSION = "admissionregistration.k8s.io/v1"
APPS_API_VERSION = "apps/v1"
AUTHENTICATION_API_VERSION = "authentication.k8s.io/v1"
AUTHORIZATION_API_VERSION = "authorization.k8s.io/v1"
AUTOSCALING_API_VERSION = "autoscaling/v2"
BATCH_API_VERSION = "batch/v1"
# The kubeconfig exec plugin's ExecCredential (_aws/eks_auth.py).
EXEC_CREDENTIAL_API_VERSION = "client.authentication.k8s.io/v1beta1"
EXTERNAL_SECRETS_API_VERSION = "external-secrets.io/v1"
KARPENTER_API_VERSION = "karpenter.sh/v1"
KARPENTER_KWOK_API_VERSION = "karpenter.kwok.sh/v1alpha1"
METRICS_API_VERSION = "metrics.k8s.io/v1beta1"
MONITORING_API_VERSION = "monitoring.coreos.com/v1"
NETWORKING_API_VERSION = "networking.k8s.io/v1"
POLICY_API_VERSION = "policy/v1"
RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
SCHEDULING_API_VERSION = "scheduling.k8s.io/v1"
# The add-on operators' APIs (_addons/operator.py).
CNPG_API_VERSION = "postgresql.cnpg.io/v1"
MYSQL_OPERATOR_API_VERSION = "mysql.oracle.com/v2"
REDIS_OPERATOR_API_VERSION = "redis.redis.opstreelabs.in/v1beta2"
STRIMZI_API_VERSION = "kafka.strimzi.io/v1beta2"
