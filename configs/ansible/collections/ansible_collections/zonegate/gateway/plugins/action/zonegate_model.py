# -*- coding: utf-8 -*-
# Copyright: zonegate authors
# Apache License 2.0 (see LICENSE in the zonegate repository)
"""Controller side of zonegate.gateway.zonegate_model.

The steps that belong on the controller run here: `zonegate check` of the
model file before anything reaches a gateway, the copy of the file, and
the management check (a new TCP connection from the controller to the
gateway after the push, before the confirmation). The steps on the
gateway are phases of the module of the same name, run one after the
other in one remote temporary directory that keeps the zonegate session
between them:

  plan     log in, read the status, digest the file; with diff or in check
           mode also `zonegate push --dry-run`
  push     `zonegate push --confirm-within`, then the health checks; on a
           failed check wait for the gateway's own rollback and fail
  confirm  `zonegate confirm`, log out
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import socket
import subprocess
import time

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.action import ActionBase

MODULE = "zonegate.gateway.zonegate_model"
DIGEST_RE = re.compile(r"digest (sha256:[0-9a-f]{64})")


class ActionModule(ActionBase):

    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        src = args.get("model")
        if not src:
            return dict(failed=True, msg="model is required: the zone model file on the controller")
        try:
            src = self._find_needle("files", src)
        except AnsibleError as e:
            return dict(failed=True, msg=to_native(e))

        local_digest, err = self._check_locally(args.get("controller_zonegate", "zonegate"), src)
        if err:
            return dict(failed=True, msg=err, model=src)

        check_mode = self._task.check_mode or self._play_context.check_mode
        diff = self._task.diff or self._play_context.diff
        self._make_tmp_path()
        tmpdir = self._connection._shell.tmpdir
        remote = self._connection._shell.join_path(tmpdir, "model.yaml")
        session = self._connection._shell.join_path(tmpdir, "zonegate-session.json")
        logged_out = False
        try:
            self._transfer_file(src, remote)
            self._fixup_perms2((tmpdir, remote))
            common = dict(args, _src=remote, _session=session)

            plan = self._phase(common, task_vars, "plan", _diff=bool(diff or check_mode))
            # The plan phase logs out when it fails or when nothing follows.
            logged_out = bool(plan.get("failed") or plan.get("unchanged") or check_mode)
            if plan.get("failed"):
                return self._merge(result, plan, src)
            out = dict(digest=plan["digest"], version=plan["version"], model=src)
            if local_digest != plan["digest"]:
                self._display.warning(
                    "%s: the controller's zonegate computes %s, the gateway's %s: they are different zonegate versions; "
                    "the gateway's digest decides" % (src, local_digest, plan["digest"]))
            if plan.get("dry_run") is not None and diff and not plan["unchanged"]:
                # Name the controller's file, not its copy on the gateway.
                out["diff"] = dict(prepared=plan["dry_run"].replace(remote, src))
            if plan["unchanged"]:
                out.update(changed=False, msg="version %d already runs this model" % plan["version"])
                return self._merge(result, out, src)
            if check_mode:
                out.update(changed=True, msg="a push would change the model (version %d, %s)" % (
                    plan["version"], plan["running_digest"]))
                return self._merge(result, out, src)

            pushed = self._phase(common, task_vars, "push")
            if pushed.get("failed") or not pushed.get("changed") or pushed.get("confirmed"):
                logged_out = bool(pushed.get("failed"))
                out.update(pushed)
                return self._merge(result, out, src)

            if args.get("management_check", True):
                reach = self._management_check(task_vars)
                if reach:
                    back = self._phase(common, task_vars, "await_rollback", _version=pushed["version"],
                                       _deadline=pushed.get("deadline"), _logout=True)
                    logged_out = True
                    out.update(pushed)
                    out.update(back)
                    out.update(failed=True, msg="management check failed (%s); %s" % (reach, back.get("msg", "")))
                    return self._merge(result, out, src)
                pushed["checks"].append(dict(name="management: new connection from the controller", ok=True,
                                             detail="connected"))

            done = self._phase(common, task_vars, "confirm", _version=pushed["version"], _logout=True)
            logged_out = True
            out.update(pushed)
            out.update(done)
            return self._merge(result, out, src)
        finally:
            if not logged_out:
                try:
                    self._phase(dict(args, _session=session), task_vars, "logout")
                except Exception:  # best effort: the session expires by itself
                    pass
            self._remove_tmp_path(tmpdir)

    def _phase(self, common, task_vars, phase, **extra):
        margs = dict(common, _phase=phase, **extra)
        return self._execute_module(module_name=MODULE, module_args=margs, task_vars=task_vars)

    @staticmethod
    def _merge(result, out, src):
        result.update(out)
        result.setdefault("model", src)
        return result

    @staticmethod
    def _check_locally(zonegate, src):
        """Runs `zonegate check` on the controller: (digest, error)."""
        try:
            p = subprocess.run([zonegate, "check", src], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        except OSError as e:
            return None, "cannot run %s on the controller (controller_zonegate): %s" % (zonegate, e)
        out, err = to_text(p.stdout), to_text(p.stderr)
        if p.returncode != 0:
            return None, "%s is invalid (zonegate check on the controller); nothing was pushed:\n%s" % (src, (err or out).strip())
        m = DIGEST_RE.search(out)
        if not m:
            return None, "zonegate check printed no digest: %s" % out.strip()
        return m.group(1), None

    def _management_check(self, task_vars):
        """Opens a new TCP connection from the controller to the gateway's
        SSH port; returns "" when it works, else why not."""
        host = task_vars.get("ansible_host") or task_vars.get("inventory_hostname")
        port = int(task_vars.get("ansible_port") or task_vars.get("ansible_ssh_port") or 22)
        last = ""
        for _ in range(3):
            try:
                s = socket.create_connection((host, port), timeout=5)
                s.close()
                return ""
            except OSError as e:
                last = "%s:%d: %s" % (host, port, e)
                time.sleep(1)
        return last
