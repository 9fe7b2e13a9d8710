package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/signal"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/protocol"
)

// AppDirectory is what the server needs of the app service: an app's
// secret key (for UserSig checks) and its settings.
type AppDirectory interface {
	SecretKey(ctx context.Context, sdkAppID uint32) (string, error)
	Settings(ctx context.Context, sdkAppID uint32) (store.AppSettings, error)
}

// authorizer implements signal.Authorizer with TLSSigAPIv2 UserSigs and,
// when the app enables it, PrivateMapKey privileges (REFERENCE.md §1.1).
type authorizer struct {
	apps AppDirectory
	now  func() time.Time
}

func (a *authorizer) AuthorizeJoin(ctx context.Context, req *protocol.JoinRequest) (signal.Grant, error) {
	key, err := a.checkUserSig(ctx, req.SDKAppID, req.UserID, req.UserSig)
	if err != nil {
		return signal.Grant{}, err
	}
	now := a.now()
	settings, err := a.apps.Settings(ctx, req.SDKAppID)
	if err != nil {
		return signal.Grant{}, signal.Refuse(protocol.ErrCodeInternal, errors.New("app settings lookup failed"))
	}
	if !settings.EnforcePrivateMapKey {
		return signal.AllowAll(), nil
	}
	if req.PrivateMapKey == "" {
		return signal.Grant{}, signal.Refuse(protocol.ErrCodePrivilegeDenied, errors.New("private_map_key: required by this app"))
	}
	claims, err := auth.VerifyPrivateMapKey(req.SDKAppID, key, req.UserID, req.Room(), req.PrivateMapKey, now)
	if err != nil {
		return signal.Grant{}, signal.Refuse(protocol.ErrCodePrivilegeDenied, fmt.Errorf("private_map_key: %w", err))
	}
	priv := claims.Map.Privileges
	if !priv.Has(auth.PrivEnterRoom) {
		return signal.Grant{}, signal.Refuse(protocol.ErrCodePrivilegeDenied, errors.New("private_map_key: no enter-room privilege"))
	}
	return signal.Grant{
		PublishAudio: priv.Has(auth.PrivSendAudio),
		PublishVideo: priv.Has(auth.PrivSendVideo),
		PublishSub:   priv.Has(auth.PrivSendSubStream),
	}, nil
}

// AuthorizeLogin implements signal.LoginAuthorizer: an IM login needs the
// app and a valid UserSig (PrivateMapKey is about rooms).
func (a *authorizer) AuthorizeLogin(ctx context.Context, sdkAppID uint32, userID, userSig string) error {
	_, err := a.checkUserSig(ctx, sdkAppID, userID, userSig)
	return err
}

// checkUserSig verifies userSig and returns the app's secret key.
func (a *authorizer) checkUserSig(ctx context.Context, sdkAppID uint32, userID, userSig string) (string, error) {
	key, err := a.apps.SecretKey(ctx, sdkAppID)
	if errors.Is(err, store.ErrNotFound) {
		return "", signal.Refuse(protocol.ErrCodeSDKAppIDInvalid, fmt.Errorf("sdkappid %d: no such app", sdkAppID))
	}
	if err != nil {
		return "", signal.Refuse(protocol.ErrCodeInternal, errors.New("app lookup failed"))
	}
	if _, err := auth.VerifyUserSig(sdkAppID, key, userID, userSig, a.now()); err != nil {
		return "", signal.Refuse(protocol.ErrCodeUserSigInvalid, fmt.Errorf("user_sig: %w", err))
	}
	return key, nil
}

// verifyAdmin authenticates REST calls: the UserSig of AdminUser.
func (a *authorizer) verifyAdmin(ctx context.Context, sdkAppID uint32, identifier, sig string) error {
	if identifier != AdminUser {
		return fmt.Errorf("identifier must be %q", AdminUser)
	}
	key, err := a.apps.SecretKey(ctx, sdkAppID)
	if err != nil {
		return fmt.Errorf("sdkappid %d: no such app", sdkAppID)
	}
	if _, err := auth.VerifyUserSig(sdkAppID, key, identifier, sig, a.now()); err != nil {
		return fmt.Errorf("usersig: %w", err)
	}
	return nil
}

// verifyUser checks a user's own UserSig (self-service requests): any
// identifier but the admin, which acts for the app, not for itself.
func (a *authorizer) verifyUser(ctx context.Context, sdkAppID uint32, identifier, sig string) error {
	if identifier == AdminUser {
		return fmt.Errorf("identifier %q acts for the app: use the REST API", AdminUser)
	}
	if err := protocol.ValidateUserID(identifier); err != nil {
		return err
	}
	key, err := a.apps.SecretKey(ctx, sdkAppID)
	if err != nil {
		return fmt.Errorf("sdkappid %d: no such app", sdkAppID)
	}
	if _, err := auth.VerifyUserSig(sdkAppID, key, identifier, sig, a.now()); err != nil {
		return fmt.Errorf("usersig: %w", err)
	}
	return nil
}
