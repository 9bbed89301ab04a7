package console

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/zonegate/zonegate/gateway/auth"
	"github.com/zonegate/zonegate/gateway/changes"
	"github.com/zonegate/zonegate/gateway/zone"
)

// Every action is a form sent twice: the first time the console answers
// with a page that says what will happen, whose button sends the same
// form again with confirmed=yes; only then does it act. Both steps need
// the session's CSRF token and the role. After acting the browser is sent
// to a page that shows the outcome (post, redirect, get).

// confirmBody is the confirmation step of an action.
type confirmBody struct {
	Question string
	// What will happen, one sentence each.
	Effects []string
	Action  string            // the form's path
	Fields  map[string]string // the form's fields, sent again
	Button  string
	Back    string // where Cancel goes
	Danger  bool
}

// confirmed reports whether the form is the second step.
func confirmed(rq *request) bool { return rq.r.PostForm.Get("confirmed") == "yes" }

// ask shows the confirmation step of an action.
func (c *Console) ask(rq *request, b confirmBody) error {
	b.Action = rq.r.URL.Path
	return c.page(rq, "confirm", b.Question, b)
}

// done leaves the outcome for the next page and sends the browser there.
func (c *Console) done(rq *request, to, msg string) error {
	c.sessions.setFlash(rq.cs, msg)
	http.Redirect(rq.w, rq.r, to, http.StatusSeeOther)
	return nil
}

// actor is the session's user and the client's address, for the change
// transactions' audit records.
func (rq *request) actor() changes.Actor { return changes.Actor{User: rq.sess.User, Peer: rq.remote} }

// formInt reads a number field of the form.
func formInt(rq *request, name string) (int, error) {
	n, err := strconv.Atoi(rq.r.PostForm.Get(name))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: the form's %s %q is not a version number", errBadRequest, name, rq.r.PostForm.Get(name))
	}
	return n, nil
}

// pending is the pending change the form names: it must still be the
// one waiting, so that a button pressed for version 7 never confirms 8.
func (c *Console) pending(rq *request) (*zone.Pending, error) {
	v, err := formInt(rq, "version")
	if err != nil {
		return nil, err
	}
	st, err := c.cfg.Status()
	if err != nil {
		return nil, err
	}
	if st.Pending == nil {
		return nil, changes.ErrNothingPending
	}
	if st.Pending.Version != v {
		return nil, fmt.Errorf("%w: version %d is no longer waiting for confirmation (version %d is): go back and look again", changes.ErrPending, v, st.Pending.Version)
	}
	p := zone.Pending(*st.Pending)
	return &p, nil
}

// confirm makes the pending change permanent.
func (c *Console) confirm(rq *request) error {
	p, err := c.pending(rq)
	if err != nil {
		return err
	}
	if !confirmed(rq) {
		return c.ask(rq, confirmBody{
			Question: fmt.Sprintf("Confirm model version %d?", p.Version),
			Effects: []string{
				fmt.Sprintf("Model version %d, pushed by %s, becomes permanent.", p.Version, p.User),
				fmt.Sprintf("The automatic rollback to version %d at %s (in %s) is cancelled.", p.Previous, utcText(p.Deadline), durText(p.Deadline.Sub(c.now()))),
			},
			Fields: map[string]string{"version": strconv.Itoa(p.Version)},
			Button: fmt.Sprintf("Confirm version %d", p.Version),
			Back:   pageOverview,
		})
	}
	v, err := c.cfg.Changes.Confirm(rq.r.Context(), rq.actor())
	if err != nil {
		return err
	}
	return c.done(rq, pageOverview, fmt.Sprintf("Model version %d is confirmed and stays.", v.Number))
}

// rollback undoes the pending change (version 0 or the pending one's
// previous) or goes back to an earlier kept version.
func (c *Console) rollback(rq *request) error {
	target, err := formInt(rq, "version")
	if err != nil {
		return err
	}
	st, err := c.cfg.Status()
	if err != nil {
		return err
	}
	b := confirmBody{Fields: map[string]string{"version": strconv.Itoa(target)}, Back: "/history", Danger: true}
	switch p := st.Pending; {
	case p != nil && (target == 0 || target == p.Previous):
		b.Question = fmt.Sprintf("Roll back model version %d now?", p.Version)
		b.Effects = []string{fmt.Sprintf("Model version %d, pushed by %s, is undone now instead of at %s.", p.Version, p.User, utcText(p.Deadline))}
		if p.Previous > 0 {
			b.Effects = append(b.Effects, fmt.Sprintf("Version %d comes back: its ruleset and proxies' policies replace those of version %d.", p.Previous, p.Version))
		} else {
			b.Effects = append(b.Effects, "There is no earlier version: the gateway goes into island mode (no forwarding between zones).")
		}
		b.Button, b.Back = fmt.Sprintf("Roll back version %d", p.Version), pageOverview
		b.Effects = append(b.Effects, c.diffEffect(p.Version, p.Previous)...)
	case p != nil:
		return changes.ErrPending
	case target == 0 || target == st.Version:
		return fmt.Errorf("%w: pick the version to go back to in the history", errBadRequest)
	default:
		b.Question = fmt.Sprintf("Go back to model version %d?", target)
		b.Effects = []string{fmt.Sprintf("Version %d replaces the running version %d at once, without a confirm deadline.", target, st.Version)}
		b.Effects = append(b.Effects, c.diffEffect(st.Version, target)...)
		b.Button = fmt.Sprintf("Go back to version %d", target)
	}
	if !confirmed(rq) {
		return c.ask(rq, b)
	}
	v, err := c.cfg.Changes.Rollback(rq.r.Context(), rq.actor(), target)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("Rolled back: model version %d runs.", v)
	if v == 0 {
		msg = "Rolled back: no model runs, the gateway is in island mode."
	}
	return c.done(rq, pageOverview, msg)
}

// diffEffect says what a change from version a to version b changes.
func (c *Console) diffEffect(a, b int) []string {
	if a == 0 || b == 0 {
		return nil
	}
	lines, err := c.diff(a, b)
	if err != nil {
		return []string{"The difference cannot be shown: " + err.Error()}
	}
	out := []string{fmt.Sprintf("From version %d to version %d:", a, b)}
	return append(out, lines...)
}

// island switches island mode.
func (c *Console) island(rq *request) error {
	on := rq.r.PostForm.Get("on") == "1"
	b := confirmBody{Fields: map[string]string{"on": rq.r.PostForm.Get("on")}, Back: pageOverview, Danger: on}
	if on {
		b.Question = "Turn island mode on?"
		b.Effects = []string{"All forwarding between zones stops now (IEC 62443 SR 5.2): every conduit is closed.",
			"Traffic inside each zone and management access to the gateway (this console, the API) stay.",
			"It stays on, also across restarts, until it is turned off."}
		b.Button = "Turn island mode on"
	} else {
		b.Question = "Turn island mode off?"
		b.Effects = []string{"Forwarding through the conduits of the running model starts again now."}
		b.Button = "Turn island mode off"
	}
	if !confirmed(rq) {
		return c.ask(rq, b)
	}
	if err := c.cfg.Changes.SetIsland(rq.r.Context(), rq.actor(), on); err != nil {
		return err
	}
	return c.done(rq, pageOverview, map[bool]string{true: "Island mode is on: no forwarding between zones.", false: "Island mode is off: the conduits forward again."}[on])
}

// --- accounts ----------------------------------------------------------

// The account actions leave the role check to the accounts, which refuse
// and record it as they do for the API (category account, with the
// client's address): a session without the role gets no confirmation
// step, its request goes straight to the accounts.

// newPasswords reads the two password fields of a form.
func newPasswords(rq *request) (string, error) {
	pw := rq.r.PostForm.Get("password")
	if pw != rq.r.PostForm.Get("password2") {
		return "", fmt.Errorf("%w: the two passwords differ; nothing was changed", errBadRequest)
	}
	return pw, nil
}

func yesNo(b bool) string { return map[bool]string{true: "yes", false: "no"}[b] }

// addUser creates an account.
func (c *Console) addUser(rq *request) error {
	f := rq.r.PostForm
	name, mustChange := f.Get("name"), f.Get("must_change") == "1"
	ctx, actor := auth.WithRemote(rq.r.Context(), rq.remote), rq.sess.Actor()
	role, err := auth.ParseRole(f.Get("role"))
	if err != nil {
		return fmt.Errorf("%w: %v", errBadRequest, err)
	}
	pw, err := newPasswords(rq)
	if err != nil {
		return err
	}
	if rq.sess.Can(auth.PermManageUsers) && !confirmed(rq) {
		if err := auth.ValidateUsername(name); err != nil {
			return fmt.Errorf("%w: %v", errBadRequest, err)
		}
		return c.ask(rq, confirmBody{
			Question: fmt.Sprintf("Create the account %s?", name),
			Effects: []string{fmt.Sprintf("%s can sign in with the role %s and the password you gave.", name, role),
				"Must change the password at the first sign-in: " + yesNo(mustChange) + "."},
			Fields: map[string]string{"name": name, "role": role.String(), "password": pw, "password2": pw, "must_change": f.Get("must_change")},
			Button: "Create " + name, Back: "/accounts",
		})
	}
	if err := c.cfg.Accounts.AddUser(ctx, actor, name, role, pw, mustChange); err != nil {
		return err
	}
	return c.done(rq, "/accounts", fmt.Sprintf("The account %s (%s) is created.", name, role))
}

// userAction disables, enables, unlocks an account or resets its
// password.
func (c *Console) userAction(rq *request) error {
	name, action := rq.r.PathValue("name"), rq.r.PathValue("action")
	ctx, actor := auth.WithRemote(rq.r.Context(), rq.remote), rq.sess.Actor()
	b := confirmBody{Fields: map[string]string{}, Back: "/accounts"}
	var do func() error
	var msg string
	switch action {
	case "disable":
		b.Question, b.Button, b.Danger = "Disable the account "+name+"?", "Disable "+name, true
		b.Effects = []string{name + "'s sessions end now, in the console and the API.", name + " cannot sign in until the account is enabled again."}
		do, msg = func() error { return c.cfg.Accounts.DisableUser(ctx, actor, name) }, "The account "+name+" is disabled."
	case "enable":
		b.Question, b.Button = "Enable the account "+name+"?", "Enable "+name
		b.Effects = []string{name + " can sign in again with the current password."}
		do, msg = func() error { return c.cfg.Accounts.EnableUser(ctx, actor, name) }, "The account "+name+" is enabled."
	case "unlock":
		b.Question, b.Button = "Unlock the account "+name+"?", "Unlock "+name
		b.Effects = []string{"The lock after failed sign-ins ends now and the failed sign-ins counted so far are forgotten."}
		do, msg = func() error { return c.cfg.Accounts.Unlock(ctx, actor, name) }, "The account "+name+" is unlocked."
	case "reset":
		pw, err := newPasswords(rq)
		if err != nil {
			return err
		}
		mustChange := rq.r.PostForm.Get("must_change") == "1"
		b.Question, b.Button, b.Danger = "Set a new password for "+name+"?", "Set the password of "+name, true
		b.Effects = []string{name + "'s password becomes the one you gave, and " + name + "'s sessions end now.",
			"Must change the password at the next sign-in: " + yesNo(mustChange) + "."}
		b.Fields = map[string]string{"password": pw, "password2": pw, "must_change": rq.r.PostForm.Get("must_change")}
		do, msg = func() error { return c.cfg.Accounts.ResetPassword(ctx, actor, name, pw, mustChange) }, "The password of "+name+" is set."
	default:
		return fmt.Errorf("%w: unknown account action %q (disable, enable, unlock, reset)", errBadRequest, action)
	}
	if rq.sess.Can(auth.PermManageUsers) && !confirmed(rq) {
		if _, err := c.cfg.Accounts.User(actor, name); err != nil {
			return err
		}
		return c.ask(rq, b)
	}
	if err := do(); err != nil {
		return err
	}
	return c.done(rq, "/accounts", msg)
}

// changePassword changes the session user's own password; auth then ends
// every session of the user, this one too.
func (c *Console) changePassword(rq *request) error {
	pw, err := newPasswords(rq)
	if err != nil {
		return err
	}
	ctx := auth.WithRemote(rq.r.Context(), rq.remote)
	if err := c.cfg.Accounts.ChangePassword(ctx, rq.sess.Actor(), rq.r.PostForm.Get("old"), pw); err != nil {
		return err
	}
	c.sessions.drop(rq.token)
	clearCookie(rq.w, sessionCookie)
	toLogin(rq.w, rq.r, newPassword)
	return nil
}

// logout ends the session.
func (c *Console) logout(rq *request) error {
	c.endSession(rq.r, rq.token)
	clearCookie(rq.w, sessionCookie)
	toLogin(rq.w, rq.r, signedOut)
	return nil
}
