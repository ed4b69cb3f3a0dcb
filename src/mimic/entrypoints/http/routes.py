"""Every route of the HTTP API, one capability per folder (docs/architecture.md)."""

from mimic.entrypoints.http.accounts.controllers import (
    AdminAuditController,
    AdminUsersController,
    AuthController,
    PasswordController,
)
from mimic.entrypoints.http.admin.controllers import AdminController
from mimic.entrypoints.http.exchanges.controllers import ExchangeController
from mimic.entrypoints.http.fidelity.controllers import FidelityController
from mimic.entrypoints.http.follows.controllers import FollowController
from mimic.entrypoints.http.health.controllers import HealthController
from mimic.entrypoints.http.lab.controllers import LAB_ROUTE_HANDLERS
from mimic.entrypoints.http.master_accounts.controllers import MasterAccountController
from mimic.entrypoints.http.messages.controllers import MessagesController
from mimic.entrypoints.http.notifications.controllers import NOTIFICATION_ROUTE_HANDLERS
from mimic.entrypoints.http.payments.controllers import PAYMENT_ROUTE_HANDLERS
from mimic.entrypoints.http.performance.controllers import PERFORMANCE_ROUTE_HANDLERS
from mimic.entrypoints.http.portfolio.controllers import PortfolioController
from mimic.entrypoints.http.profile.controllers import MeController
from mimic.entrypoints.http.signals.controllers import SignalController
from mimic.entrypoints.http.sources.controllers import SourceController
from mimic.entrypoints.http.webhook.controllers import WebhookController

# In the order of the OpenAPI document's paths.
ROUTE_HANDLERS = [
    PasswordController,
    AdminUsersController,
    AdminAuditController,
    MessagesController,
    *LAB_ROUTE_HANDLERS,
    *PERFORMANCE_ROUTE_HANDLERS,
    HealthController,
    WebhookController,
    AuthController,
    MeController,
    ExchangeController,
    PortfolioController,
    SignalController,
    FidelityController,
    AdminController,
    SourceController,
    MasterAccountController,
    FollowController,
    *PAYMENT_ROUTE_HANDLERS,
    *NOTIFICATION_ROUTE_HANDLERS,
]
