package sandbox

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// stsProduct is Security Token Service, version 2015-04-01.
func stsProduct() *product {
	return &product{
		name: "Sts", version: "2015-04-01", host: "sts.aliyuncs.com",
		actions: map[string]handler{
			"AssumeRole":        (*Server).stsAssumeRole,
			"GetCallerIdentity": (*Server).stsGetCallerIdentity,
		},
	}
}

// validSessionName checks RoleSessionName's syntax.
func validSessionName(name string) bool {
	return regexp.MustCompile(`^[\w.@-]{2,64}$`).MatchString(name)
}

func (s *Server) stsAssumeRole(rc *reqCtx) (obj, error) {
	p := rc.p
	arn, err := p.required("RoleArn")
	if err != nil {
		return nil, err
	}
	session, err := p.required("RoleSessionName")
	if err != nil {
		return nil, err
	}
	if !validSessionName(session) {
		return nil, errBadRequest("InvalidParameter.RoleSessionName",
			"The RoleSessionName must be 2 to 64 characters of letters, digits and . @ - _.")
	}
	duration, err := p.integerIn("DurationSeconds", 3600, 900, 43200)
	if err != nil {
		return nil, err
	}
	prefix := "acs:ram::" + s.st.AccountID + ":role/"
	name, ok := strings.CutPrefix(strings.ToLower(arn), prefix)
	if !ok {
		if strings.HasPrefix(arn, "acs:ram::") {
			return nil, errForbidden("NoPermission", fmt.Sprintf("The role %s is in another account than %s.", arn, s.st.AccountID))
		}
		return nil, errBadRequest("InvalidParameter.RoleArn", fmt.Sprintf("The RoleArn %q is not of the form acs:ram::<account>:role/<name>.", arn))
	}
	role, ok := find(s.st.RAM.Roles, func(r RAMRole) bool { return strings.EqualFold(r.Name, name) })
	if !ok {
		return nil, errNotFound("EntityNotExist.Role", fmt.Sprintf("The role %q does not exist.", name))
	}
	cred := TempCredential{
		AccessKeyID:   "STS." + randomString(24, alnumMixed),
		Secret:        randomString(40, alnumMixed),
		SecurityToken: "CAIS" + randomString(200, alnumMixed),
		RoleName:      role.Name,
		SessionName:   session,
		Expiration:    rc.now.Add(time.Duration(duration) * time.Second).UTC().Truncate(time.Second),
	}
	s.st.STS.Credentials = append(s.st.STS.Credentials, cred)
	rc.changed = true
	return obj{
		"AssumedRoleUser": obj{
			"AssumedRoleId": role.ID + ":" + session,
			"Arn":           "acs:ram::" + s.st.AccountID + ":assumed-role/" + strings.ToLower(role.Name) + "/" + session,
		},
		"Credentials": obj{
			"AccessKeyId":     cred.AccessKeyID,
			"AccessKeySecret": cred.Secret,
			"SecurityToken":   cred.SecurityToken,
			"Expiration":      isoTime(cred.Expiration),
		},
	}, nil
}

func (s *Server) stsGetCallerIdentity(rc *reqCtx) (obj, error) {
	c := rc.caller
	out := obj{"AccountId": s.st.AccountID, "UserId": "", "RoleId": "", "PrincipalId": "", "Arn": "", "IdentityType": ""}
	if c.Type == "assumed-role" {
		role, _ := find(s.st.RAM.Roles, func(r RAMRole) bool { return r.Name == c.RoleName })
		out["IdentityType"] = "AssumedRoleUser"
		out["RoleId"] = role.ID
		out["PrincipalId"] = role.ID + ":" + c.SessionName
		out["Arn"] = "acs:ram::" + s.st.AccountID + ":assumed-role/" + strings.ToLower(c.RoleName) + "/" + c.SessionName
		return out, nil
	}
	u, _ := s.st.RAM.User(c.UserName)
	out["IdentityType"] = "RAMUser"
	out["UserId"] = u.ID
	out["PrincipalId"] = u.ID
	out["Arn"] = "acs:ram::" + s.st.AccountID + ":user/" + u.Name
	return out, nil
}
