package sandbox

import (
	"fmt"
	"slices"
)

// ramProduct is Resource Access Management, version 2015-05-01.
func ramProduct() *product {
	return &product{
		name: "Ram", version: "2015-05-01", host: "ram.aliyuncs.com",
		actions: map[string]handler{
			"ListUsers":            (*Server).ramListUsers,
			"GetUser":              (*Server).ramGetUser,
			"ListAccessKeys":       (*Server).ramListAccessKeys,
			"UpdateAccessKey":      (*Server).ramUpdateAccessKey,
			"GetAccessKeyLastUsed": (*Server).ramGetAccessKeyLastUsed,
		},
	}
}

func userJSON(u RAMUser) obj {
	return obj{
		"UserName":    u.Name,
		"UserId":      u.ID,
		"DisplayName": u.DisplayName,
		"Comments":    u.Comments,
		"CreateDate":  isoTime(u.CreateDate),
		"UpdateDate":  isoTime(u.CreateDate),
	}
}

// ramUser returns the live user named by UserName, or the caller's own
// user when UserName is empty (a permanent key's owner).
func (s *Server) ramUser(rc *reqCtx) (*RAMUser, error) {
	name := rc.p.get("UserName")
	if name == "" {
		if rc.caller.Type != "ram-user" {
			return nil, errMissing("UserName")
		}
		name = rc.caller.UserName
	}
	u := findPtr(s.st.RAM.Users, func(u *RAMUser) bool { return u.Name == name })
	if u == nil {
		return nil, errNotFound("EntityNotExist.User", fmt.Sprintf("The user %q does not exist.", name))
	}
	return u, nil
}

// ramAccessKey returns the user's live key named by UserAccessKeyId.
func (s *Server) ramAccessKey(rc *reqCtx) (*RAMUser, *AccessKey, error) {
	id, err := rc.p.required("UserAccessKeyId")
	if err != nil {
		return nil, nil, err
	}
	u, err := s.ramUser(rc)
	if err != nil {
		return nil, nil, err
	}
	k := findPtr(u.AccessKeys, func(k *AccessKey) bool { return k.ID == id })
	if k == nil {
		return nil, nil, errNotFound("EntityNotExist.User.AccessKey", fmt.Sprintf("The access key %q of user %q does not exist.", id, u.Name))
	}
	return u, k, nil
}

func (s *Server) ramListUsers(rc *reqCtx) (obj, error) {
	max, err := rc.p.integerIn("MaxItems", 100, 1, 1000)
	if err != nil {
		return nil, err
	}
	start := 0
	if m := rc.p.get("Marker"); m != "" {
		i := slices.IndexFunc(s.st.RAM.Users, func(u RAMUser) bool { return u.Name == m })
		if i < 0 {
			return nil, errBadRequest("InvalidParameter.Marker", "The Marker is not valid.")
		}
		start = i
	}
	end := min(start+max, len(s.st.RAM.Users))
	var users []obj
	for _, u := range s.st.RAM.Users[start:end] {
		users = append(users, userJSON(u))
	}
	out := obj{"IsTruncated": end < len(s.st.RAM.Users), "Marker": "", "Users": obj{"User": orEmpty(users)}}
	if end < len(s.st.RAM.Users) {
		out["Marker"] = s.st.RAM.Users[end].Name
	}
	return out, nil
}

func (s *Server) ramGetUser(rc *reqCtx) (obj, error) {
	if _, err := rc.p.required("UserName"); err != nil {
		return nil, err
	}
	u, err := s.ramUser(rc)
	if err != nil {
		return nil, err
	}
	user := userJSON(*u)
	user["LastLoginDate"] = ""
	return obj{"User": user}, nil
}

func (s *Server) ramListAccessKeys(rc *reqCtx) (obj, error) {
	u, err := s.ramUser(rc)
	if err != nil {
		return nil, err
	}
	var keys []obj
	for _, k := range u.AccessKeys {
		keys = append(keys, obj{"AccessKeyId": k.ID, "Status": k.Status, "CreateDate": isoTime(k.CreateDate)})
	}
	return obj{"AccessKeys": obj{"AccessKey": orEmpty(keys)}}, nil
}

// ramUpdateAccessKey flips a key's status in the store the signature
// verifier reads: calls signed with an Inactive key fail from then on.
func (s *Server) ramUpdateAccessKey(rc *reqCtx) (obj, error) {
	status, err := rc.p.required("Status")
	if err != nil {
		return nil, err
	}
	if status != "Active" && status != "Inactive" {
		return nil, errBadRequest("InvalidParameter.Status", fmt.Sprintf("The Status %q is not Active or Inactive.", status))
	}
	_, k, err := s.ramAccessKey(rc)
	if err != nil {
		return nil, err
	}
	if k.Status != status {
		k.Status = status
		rc.changed = true
	}
	return obj{}, nil
}

func (s *Server) ramGetAccessKeyLastUsed(rc *reqCtx) (obj, error) {
	_, k, err := s.ramAccessKey(rc)
	if err != nil {
		return nil, err
	}
	return obj{"AccessKeyLastUsed": obj{"LastUsedDate": isoTime(k.LastUsed)}}, nil
}
