# -*- coding: utf-8 -*-
# Copyright: zonegate authors
# Apache License 2.0 (see LICENSE in the zonegate repository)
"""The zonegate CLI on the gateway, as the collection's modules use it.

Every change goes through the `zonegate` program on the gateway and so
through the daemon's own management API on its Unix socket: the same
roles, checks and audit records as an engineer at the console. This file
only runs the CLI and reads what it prints (`status --json`, `user list
--json`, the digest line of `check`); it talks to no network API of its
own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import time

# Options every module of the collection takes (the connection to the
# daemon on the gateway). `group/zonegate.gateway.zonegate` in
# module_defaults sets them once for a play.
CONNECTION_ARGS = dict(
    zonegate=dict(type="str", default="zonegate"),
    socket=dict(type="str", default="/run/zonegate/api.sock"),
    login_user=dict(type="str", required=True),
    login_password=dict(type="str", required=True, no_log=True),
)

DIGEST_RE = re.compile(r"digest (sha256:[0-9a-f]{64})")


class ZonegateError(Exception):
    """A zonegate command failed; the message says which and why."""


class Gateway:
    """The zonegate CLI on this gateway with one session of login_user."""

    def __init__(self, module, session_path=None):
        self.module = module
        p = module.params
        self.bin = p["zonegate"]
        self.socket = p["socket"]
        self.user = p["login_user"]
        self.password = p["login_password"]
        if session_path is None:
            session_path = os.path.join(module.tmpdir, "zonegate-session.json")
        self.session = session_path

    def env(self, session=None):
        return {"ZONEGATE_SOCKET": self.socket, "ZONEGATE_SESSION": session or self.session}

    def run(self, args, data=None, check=True, session=None):
        """Runs zonegate ARGS; returns (rc, stdout, stderr)."""
        cmd = [self.bin] + list(args)
        rc, out, err = self.module.run_command(
            cmd, data=data, environ_update=self.env(session), binary_data=False)
        if check and rc != 0:
            raise ZonegateError("`zonegate %s` failed (exit %d): %s" % (
                " ".join(args), rc, (err or out).strip()))
        return rc, out, err

    # Sessions.

    def logged_in(self):
        return os.path.exists(self.session)

    def login(self, user=None, password=None, session=None):
        """Logs in (a session file of its own per user); returns (ok, message)."""
        user = user or self.user
        password = self.password if password is None else password
        rc, out, err = self.run(["login", user], data=password + "\n", check=False, session=session)
        return rc == 0, (err or out).strip()

    def ensure_login(self):
        if self.logged_in():
            return
        ok, msg = self.login()
        if not ok:
            raise ZonegateError("login as %s on the gateway failed: %s" % (self.user, msg))

    def logout(self, session=None):
        session = session or self.session
        if not os.path.exists(session):
            return
        self.run(["logout"], check=False, session=session)
        try:
            os.remove(session)
        except OSError:
            pass

    # What the daemon says.

    def status(self):
        _, out, _ = self.run(["status", "--json"])
        try:
            return json.loads(out)
        except ValueError:
            raise ZonegateError("`zonegate status --json` printed no JSON: %s" % out[:200])

    def users(self):
        _, out, _ = self.run(["user", "list", "--json"])
        try:
            return json.loads(out) or []
        except ValueError:
            raise ZonegateError("`zonegate user list --json` printed no JSON (is zonegate on the gateway older than the collection?): %s" % out[:200])

    def digest(self, path):
        """The digest of a model file as this gateway's zonegate computes it."""
        rc, out, err = self.run(["check", path], check=False)
        if rc != 0:
            raise ZonegateError("the model is invalid for the gateway's zonegate:\n%s" % (err or out).strip())
        m = DIGEST_RE.search(out)
        if not m:
            raise ZonegateError("`zonegate check` printed no digest: %s" % out.strip())
        return m.group(1)


def counters(status):
    """The named counters of a status as {name: packets}."""
    return dict((c["name"], c.get("packets", 0)) for c in status.get("counters") or [])


def parse_time(text):
    """Seconds since the epoch of an RFC 3339 time from the daemon's JSON."""
    if not text:
        return None
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not m:
        return None
    import calendar
    secs = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)) + (0, 0, 0))
    if m.group(7):
        secs += float(m.group(7))
    tz = m.group(8)
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return secs


def wait_until(predicate, timeout, interval=0.5):
    """Polls predicate until it returns a true value or timeout seconds pass."""
    end = time.time() + timeout
    while True:
        v = predicate()
        if v or time.time() >= end:
            return v
        time.sleep(interval)
