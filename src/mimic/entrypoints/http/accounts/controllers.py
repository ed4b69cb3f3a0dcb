"""Accounts routes: sign-up, sign-in and out, passwords, admin user management, audit trail."""

import logging
from typing import Annotated, Any

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from mimic.application.audit_trail import ReadAuditTrail, RequestContext
from mimic.application.authenticate_user import AuthenticateUser, Credentials
from mimic.application.grant_subscription import GrantSubscription, GrantSubscriptionCommand
from mimic.application.manage_users import ManageUsers, UserEdit
from mimic.application.passwords import (
    ChangePassword,
    OutgoingMail,
    PasswordChange,
    PasswordReset,
    RequestPasswordReset,
    ResetPassword,
    SignOut,
)
from mimic.application.register_user import RegisterUser, RegisterUserCommand
from mimic.application.throttle import Throttle
from mimic.domain.accounts import Role, User
from mimic.domain.audit import AuditEvent
from mimic.domain.errors import DeliveryFailed, InvalidField
from mimic.domain.risk import PlatformRiskSettings
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.accounts import schemas as wire
from mimic.entrypoints.http.accounts.schemas import LoginRequest, RegisterRequest, TokenResponse
from mimic.entrypoints.http.contract import Offset, errors, iso
from mimic.entrypoints.http.profile.schemas import ProfileOut
from mimic.entrypoints.http.profile.views import follower_settings_out, profile_out
from mimic.entrypoints.http.security import AuthRequest, admin_only, issue_token
from mimic.entrypoints.http.web_security import (
    cleared_session_cookies,
    request_context,
    session_cookies,
)
from mimic.ports.services import Mailer

log = logging.getLogger(__name__)

FORGOT_ANSWER = "if the address belongs to an account, a reset code is on its way"


def signed_in(
    request: Request[Any, Any, Any], user: User, settings: Settings
) -> Response[TokenResponse]:
    """A fresh token, as the bearer answer and as the web UI's session cookies."""
    token = issue_token(request.app.state.jwt_auth, user)
    return Response(TokenResponse(access_token=token), cookies=session_cookies(token, settings))


async def _deliver(mailer: Mailer, mail: OutgoingMail) -> None:
    try:
        await mailer.send(mail.to, mail.subject, mail.body)
    except DeliveryFailed as exc:
        log.warning("password reset mail not delivered: %s", exc)


class PasswordController(Controller):
    path = "/api/auth"

    @post("/logout", operation_id="logout", status_code=HTTP_204_NO_CONTENT)
    async def logout(
        self, request: AuthRequest, sign_out: FromDishka[SignOut], settings: FromDishka[Settings]
    ) -> Response[None]:
        """Signs out everywhere: every token of the user stops working."""
        await sign_out(request.user.id, request_context(request, settings))
        return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=cleared_session_cookies())

    @post(
        "/password/change",
        operation_id="change_password",
        status_code=200,
        responses=errors(404, 429),
    )
    async def change(
        self,
        request: AuthRequest,
        data: JSONBody[wire.PasswordChangeRequest],
        change_password: FromDishka[ChangePassword],
        throttle: FromDishka[Throttle],
        settings: FromDishka[Settings],
    ) -> Response[TokenResponse]:
        """Every earlier token stops working; the answer carries a fresh one."""
        context = request_context(request, settings)
        await throttle.check(
            "password-change",
            (f"ip:{context.ip}", throttle.limits.password_change_per_ip),
            (f"account:{request.user.id}", throttle.limits.password_change_per_account),
        )
        user = await change_password(
            PasswordChange(
                user_id=request.user.id,
                current_password=data.current_password,
                new_password=data.new_password,
                context=context,
            )
        )
        return signed_in(request, user, settings)

    @post(
        "/password/forgot",
        operation_id="forgot_password",
        status_code=HTTP_202_ACCEPTED,
        responses=errors(429),
    )
    async def forgot(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[wire.ForgotPasswordRequest],
        request_reset: FromDishka[RequestPasswordReset],
        throttle: FromDishka[Throttle],
        mailer: FromDishka[Mailer],
        settings: FromDishka[Settings],
    ) -> Response[wire.Accepted]:
        """Always 202: the answer never tells whether the address is known. The mail goes
        out after the answer, so its delivery time does not tell either."""
        context = request_context(request, settings)
        await throttle.check(
            "forgot-password",
            (f"ip:{context.ip}", throttle.limits.forgot_per_ip),
            (f"email:{data.email.strip().lower()[:254]}", throttle.limits.forgot_per_account),
        )
        mail = await request_reset(data.email, context)
        return Response(
            wire.Accepted(detail=FORGOT_ANSWER),
            status_code=HTTP_202_ACCEPTED,
            background=None if mail is None else BackgroundTask(_deliver, mailer, mail),
        )

    @post("/password/reset", operation_id="reset_password", status_code=200, responses=errors(429))
    async def reset(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[wire.ResetPasswordRequest],
        reset_password: FromDishka[ResetPassword],
        throttle: FromDishka[Throttle],
        settings: FromDishka[Settings],
    ) -> wire.Accepted:
        context = request_context(request, settings)
        await throttle.check("reset-password", (f"ip:{context.ip}", throttle.limits.forgot_per_ip))
        await reset_password(
            PasswordReset(code=data.token, new_password=data.new_password, context=context)
        )
        return wire.Accepted(detail="password changed; sign in with the new one")


def _admin_user(user: User) -> wire.AdminUserOut:
    return wire.AdminUserOut(
        id=user.id,
        username=user.username,
        email=user.email,
        role=user.role.value,
        active=user.active,
        settings=follower_settings_out(user),
        caps=wire.UserCapsOut(
            max_risk_perc=user.caps.max_risk_perc, max_leverage=user.caps.max_leverage
        ),
        created_at=user.created_at.isoformat(),
        deleted_at=iso(user.deleted_at),
        locked_until=iso(user.locked_until),
        failed_logins=user.failed_logins,
        referral_code=user.referral_code,
        referred_by=user.referred_by,
    )


def _user_edit(user_id: str, data: wire.AdminUserPatch, context: RequestContext) -> UserEdit:
    given = frozenset(
        name
        for name in wire.AdminUserPatch.__struct_fields__
        if name != "subscription" and getattr(data, name) is not msgspec.UNSET
    )
    values = {name: getattr(data, name) for name in given}
    if "role" in values:
        try:
            values["role"] = Role(values["role"])
        except ValueError:
            raise InvalidField("role", "must be user or admin") from None
    return UserEdit(user_id=user_id, given=given, context=context, **values)


class AdminUsersController(Controller):
    path = "/api/admin/users"
    guards = [admin_only]  # noqa: RUF012

    @get("/", operation_id="admin_list_users")
    async def list_users(
        self,
        manage: FromDishka[ManageUsers],
        q: FromQuery[str | None] = None,
        offset: Offset = 0,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        include_deleted: FromQuery[bool] = False,
    ) -> wire.UserPageOut:
        page = await manage.search(q, offset, limit, include_deleted)
        return wire.UserPageOut(
            users=[_admin_user(u) for u in page.users], total=page.total, offset=offset, limit=limit
        )

    @get("/{user_id:str}", operation_id="admin_get_user")
    async def get_user(
        self, user_id: FromPath[str], manage: FromDishka[ManageUsers]
    ) -> wire.AdminUserOut:
        return _admin_user(await manage.get(user_id))

    @patch("/{user_id:str}", operation_id="admin_edit_user", responses=errors(409))
    async def edit_user(
        self,
        request: AuthRequest,
        user_id: FromPath[str],
        data: JSONBody[wire.AdminUserPatch],
        manage: FromDishka[ManageUsers],
        grant: FromDishka[GrantSubscription],
        settings: FromDishka[Settings],
    ) -> wire.AdminUserOut:
        context = request_context(request, settings)
        edit = _user_edit(user_id, data, context)
        if data.subscription is msgspec.UNSET:
            return _admin_user(await manage.edit(edit))
        grant_command = GrantSubscriptionCommand(
            admin_id=request.user.id,
            user_id=user_id,
            days=data.subscription.days,
            plan=data.subscription.plan,
            ip=context.ip,
        )
        await grant.check(grant_command)  # refuse the whole request before changing anything
        user = await manage.edit(edit)
        await grant(grant_command)
        return _admin_user(user)

    @delete(
        "/{user_id:str}",
        operation_id="admin_delete_user",
        status_code=HTTP_204_NO_CONTENT,
        responses=errors(409),
    )
    async def delete_user(
        self,
        request: AuthRequest,
        user_id: FromPath[str],
        manage: FromDishka[ManageUsers],
        settings: FromDishka[Settings],
    ) -> None:
        await manage.delete(user_id, request_context(request, settings))


def _audit(event: AuditEvent) -> wire.AuditEventOut:
    return wire.AuditEventOut(
        id=event.id,
        at=event.at.isoformat(),
        action=event.action,
        actor_id=event.actor_id,
        target=event.target,
        ip=event.ip,
        details=dict(event.details),
    )


class AdminAuditController(Controller):
    path = "/api/admin/audit"
    guards = [admin_only]  # noqa: RUF012

    @get("/", operation_id="admin_audit")
    async def audit(
        self,
        trail: FromDishka[ReadAuditTrail],
        offset: Offset = 0,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
        action: FromQuery[str | None] = None,
        actor_id: FromQuery[str | None] = None,
    ) -> list[wire.AuditEventOut]:
        events = await trail(offset=offset, limit=limit, action=action, actor_id=actor_id)
        return [_audit(e) for e in events]


class AuthController(Controller):
    path = "/api/auth"

    @post("/register", operation_id="register", status_code=201, responses=errors(409, 429))
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RegisterRequest],
        register_user: FromDishka[RegisterUser],
        throttle: FromDishka[Throttle],
        settings: FromDishka[Settings],
    ) -> ProfileOut:
        context = request_context(request, settings)
        await throttle.check("register", (f"ip:{context.ip}", throttle.limits.register_per_ip))
        user = await register_user(
            RegisterUserCommand(
                username=data.username,
                email=data.email,
                password=data.password,
                referral_code=data.referral_code,
            )
        )
        return profile_out(user, PlatformRiskSettings())

    @post("/login", operation_id="login", status_code=200, responses=errors(401, 429))
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        authenticate: FromDishka[AuthenticateUser],
        throttle: FromDishka[Throttle],
        settings: FromDishka[Settings],
    ) -> Response[TokenResponse]:
        context = request_context(request, settings)
        await throttle.check(
            "login",
            (f"ip:{context.ip}", throttle.limits.login_per_ip),
            (f"user:{data.username.lower()[:64]}", throttle.limits.login_per_account),
        )
        user = await authenticate(
            Credentials(username=data.username, password=data.password, context=context)
        )
        return signed_in(request, user, settings)
