package auth_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zonegate/zonegate/gateway/auth"
)

// The daemon wires the audit log in as the sink. With gateway/audit that
// is, in the daemon (not in this package):
//
//	sink := auth.SinkFunc(func(ctx context.Context, ev auth.Event) error {
//		_, err := log.Append(ctx, audit.Record{Time: ev.Time, Actor: ev.Actor,
//			Category: audit.CategoryAccount, Action: audit.Action(ev.Action),
//			Object: "user:" + ev.Target, Result: audit.Result(ev.Result), Details: ev.Detail})
//		return err
//	})
func Example() {
	dir, _ := os.MkdirTemp("", "zonegate-auth-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	sink := auth.SinkFunc(func(_ context.Context, ev auth.Event) error {
		fmt.Printf("audit: %s %s %s %s\n", ev.Actor, ev.Action, ev.Target, ev.Result)
		return nil
	})
	m, err := auth.Open(auth.Options{Path: filepath.Join(dir, "accounts.json"), Sink: sink})
	if err != nil {
		fmt.Println(err)
		return
	}
	// On the local console of a new gateway:
	if err := m.Init(ctx, "plant_admin", "violet harbor lantern 42"); err != nil {
		fmt.Println(err)
		return
	}
	// In the management API: log in, then authenticate each request.
	token, _, err := m.Login(ctx, "plant_admin", "violet harbor lantern 42", "uid=0")
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := m.Authenticate(token)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("may push models:", s.Can(auth.PermPushModel))
	err = m.AddUser(ctx, s.Actor(), "op1", auth.RoleOperator, "copper-meadow-quietly-7", true)
	fmt.Println("add operator:", err)
	err = m.AddUser(ctx, auth.Actor{Name: "op1", Role: auth.RoleOperator}, "op2", auth.RoleAdmin, "seventeen orange kettles", false)
	fmt.Println("operator adds admin:", err)
	// Output:
	// audit: @init create plant_admin success
	// audit: plant_admin login-success plant_admin success
	// may push models: true
	// audit: plant_admin create op1 success
	// add operator: <nil>
	// audit: op1 create op2 denied
	// operator adds admin: permission denied: manage-users needs role admin or higher; op1 has role operator
}
