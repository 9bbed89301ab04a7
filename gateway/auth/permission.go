package auth

// Permission names one thing the management API lets a user do. Each
// permission belongs to the lowest role that has it; higher roles have it
// too.
type Permission string

// Permissions of the management API.
const (
	// PermViewStatus: read the gateway's status, zone model and counters.
	PermViewStatus Permission = "view-status"
	// PermViewAudit: read and verify the audit log.
	PermViewAudit Permission = "view-audit"
	// PermChangeOwnPassword: change one's own password (every role).
	PermChangeOwnPassword Permission = "change-own-password"

	// PermConfirm: confirm a pending change.
	PermConfirm Permission = "confirm"
	// PermRollback: roll back to the previous zone model.
	PermRollback Permission = "rollback"
	// PermIslandMode: enter or leave island mode.
	PermIslandMode Permission = "island-mode"

	// PermPushModel: upload and apply a zone model.
	PermPushModel Permission = "push-model"

	// PermManageUsers: create, delete, enable, disable, unlock users, set
	// their roles and reset their passwords.
	PermManageUsers Permission = "manage-users"
	// PermManageSettings: change the daemon's settings.
	PermManageSettings Permission = "manage-settings"
)

var permissionRoles = map[Permission]Role{
	PermViewStatus:        RoleViewer,
	PermViewAudit:         RoleViewer,
	PermChangeOwnPassword: RoleViewer,
	PermConfirm:           RoleOperator,
	PermRollback:          RoleOperator,
	PermIslandMode:        RoleOperator,
	PermPushModel:         RoleEngineer,
	PermManageUsers:       RoleAdmin,
	PermManageSettings:    RoleAdmin,
}

// Permissions returns every permission with the lowest role that has it.
func Permissions() map[Permission]Role {
	m := make(map[Permission]Role, len(permissionRoles))
	for p, r := range permissionRoles {
		m[p] = r
	}
	return m
}

// Role returns the lowest role that has p. An unknown permission returns
// the zero Role, which no role allows: unknown permissions are denied.
func (p Permission) Role() Role { return permissionRoles[p] }
