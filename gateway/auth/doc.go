// Package auth holds the gateway's local accounts: users and their roles,
// argon2id password hashing, the password policy, login with lockout, and
// management sessions.
//
// # Using it
//
// Open a Manager on the account file. On a new gateway the file does not
// exist and Manager.Init creates the first administrator: there is no
// default account and no default password. The management API calls
// Manager.Login to exchange a user name and password for a session token,
// Manager.Authenticate on every request to turn the token back into a
// Session (user and current role), Session.Can or Role.Allows to check the
// request's Permission, and the user management methods (AddUser,
// DisableUser, SetRole, ResetPassword, ...) with the session's Actor.
// Those methods check the actor's rights themselves, so a missing check in
// the API layer cannot let a viewer create an administrator.
//
// # Audit
//
// Every account event goes to an EventSink (the gateway's audit log). For
// changes (create, delete, disable, enable, role change, password change or
// reset, unlock) the sink is called before the change is saved, and an
// error from the sink refuses the change: nothing is written and the caller
// gets an error wrapping ErrAudit. If saving fails after the sink accepted
// the event, a second event with Result "failure" says so. Logins are sent
// too: an error from the sink on a successful login refuses the login (no
// session without an audit record), and a failed login stays failed.
// Refused requests (missing rights, policy violations, last administrator)
// are sent with Result "denied" or "failure". Events never carry a
// password, a hash or a token.
//
// # Passwords
//
// Passwords are hashed with argon2id and stored as PHC strings
// ($argon2id$v=19$m=19456,t=2,p=1$salt$hash). Verification uses the
// parameters stored in the hash, so Policy.Argon2 can be raised later: a
// hash with other parameters is replaced on the next successful login. At
// most Policy.MaxConcurrentHashes hashes run at once; further callers wait
// for their context, or for Policy.HashWait, and then get ErrBusy. A login
// for an unknown, locked or disabled user costs one hash like any other, so
// that timing does not tell which user names exist.
//
// # Sessions
//
// Session tokens are 32 random bytes, shown once by Login, and kept only as
// SHA-256 hashes in memory. Sessions are not persisted: restarting the
// daemon logs everybody out. This is deliberate: no token material is ever
// on disk, and a restart of a gateway is rare and already needs attention.
// A session ends at its absolute lifetime, after its idle time, on Logout,
// and as soon as its user is deleted or disabled or the user's password
// changes. Role changes take effect on the next request.
//
// # On disk
//
// The account file is JSON, mode 0600, written atomically (temporary file
// in the same directory, fsync, rename, fsync of the directory), so that it
// is always either the old or the new version. A corrupt file stops Open
// with an error saying how to recover; it is never replaced silently, and
// a file readable by group or others is refused. Failed-login counters and
// lockouts are part of the file, so a restart does not reset them.
// Example:
//
//	{
//	  "format": "zonegate-accounts",
//	  "version": 1,
//	  "accounts": [
//	    {
//	      "id": "6f1c0c6e2b8d4d0f9a7e3b2c1d0e9f8a",
//	      "name": "alice",
//	      "role": "operator",
//	      "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>",
//	      "previous_hashes": ["$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"],
//	      "epoch": 2,
//	      "created": "2025-01-10T08:00:00Z",
//	      "password_changed": "2025-03-01T09:30:00Z",
//	      "failures": ["2025-03-02T10:00:00Z"],
//	      "locked": true,
//	      "locked_until": "2025-03-02T10:15:00Z"
//	    }
//	  ]
//	}
//
// Accounts are sorted by name; id is random and binds sessions to this
// account, epoch changes when its sessions must end; disabled, must_change,
// previous_hashes (newest first), failures, locked and locked_until are
// left out when empty. Unknown fields and other versions are refused, so
// that an older zonegate never drops what a newer one wrote.
package auth
