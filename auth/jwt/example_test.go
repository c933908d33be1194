package jwt_test

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/auth/jwt"
)

// Example shows the two calls a server makes: Verify at SASL time, VerifyRoom
// when the session joins a MUC room.
func Example() {
	opts := map[string]any{ // as read from the VirtualHost in prosody.cfg.lua
		"app_id":                     "my_app",
		"app_secret":                 "a-long-random-secret-shared-with-the-token-issuer",
		"enable_domain_verification": true,
		"muc_mapper_domain_base":     "meet.example.com",
	}
	cfg, err := jwt.ConfigFromOptions(func(k string) (any, bool) { v, ok := opts[k]; return v, ok })
	if err != nil {
		panic(err)
	}
	v, err := jwt.NewVerifier(cfg)
	if err != nil {
		panic(err)
	}
	token, _ := jwt.Mint(map[string]any{
		"iss": "my_app", "aud": "jitsi", "sub": "meet.example.com", "room": "standup",
		"exp":     time.Now().Add(time.Hour),
		"context": map[string]any{"user": map[string]any{"name": "Ada", "moderator": true}},
	}, jwt.MintOptions{Algorithm: "HS256", Key: []byte("a-long-random-secret-shared-with-the-token-issuer")})

	claims, err := v.Verify(context.Background(), token)
	if err != nil {
		fmt.Println("SASL failure:", err.(*jwt.Error).Text)
		return
	}
	fmt.Println("user:", claims.User.Name, "owner:", claims.IsOwner())
	fmt.Println("standup:", v.VerifyRoom(claims, "standup", "conference.meet.example.com") == nil)
	fmt.Println("other:", v.VerifyRoom(claims, "other", "conference.meet.example.com"))

	_, err = v.Verify(context.Background(), token[:len(token)-2]+"xx")
	fmt.Println("tampered:", err.(*jwt.Error).Text)
	// Output:
	// user: Ada owner: true
	// standup: true
	// other: jwt: room-mismatch: Room and token mismatched
	// tampered: Invalid signature
}
