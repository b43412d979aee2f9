package sandbox

// ecsProduct is Elastic Compute Service, version 2014-05-26.
func ecsProduct() *product {
	return &product{
		name: "Ecs", version: "2014-05-26", host: "ecs.aliyuncs.com",
		actions: map[string]handler{
			"DescribeInstances":               (*Server).describeInstances,
			"StopInstance":                    (*Server).stopInstance,
			"StartInstance":                   (*Server).startInstance,
			"ModifyInstanceAttribute":         (*Server).modifyInstanceAttribute,
			"DescribeNetworkInterfaces":       (*Server).describeNetworkInterfaces,
			"ModifyNetworkInterfaceAttribute": (*Server).modifyNetworkInterfaceAttribute,
			"JoinSecurityGroup":               (*Server).joinSecurityGroup,
			"LeaveSecurityGroup":              (*Server).leaveSecurityGroup,
			"DescribeSecurityGroups":          (*Server).describeSecurityGroups,
			"DescribeSecurityGroupAttribute":  (*Server).describeSecurityGroupAttribute,
			"CreateSecurityGroup":             (*Server).createSecurityGroup,
			"ModifySecurityGroupPolicy":       (*Server).modifySecurityGroupPolicy,
			"AuthorizeSecurityGroup":          (*Server).authorizeSecurityGroup,
			"AuthorizeSecurityGroupEgress":    (*Server).authorizeSecurityGroupEgress,
			"RevokeSecurityGroup":             (*Server).revokeSecurityGroup,
			"RevokeSecurityGroupEgress":       (*Server).revokeSecurityGroupEgress,
			"DescribeDisks":                   (*Server).describeDisks,
			"CreateSnapshot":                  (*Server).createSnapshot,
			"DescribeSnapshots":               (*Server).describeSnapshots,
			"DeleteSnapshot":                  (*Server).deleteSnapshot,
			"RunCommand":                      (*Server).runCommand,
			"DescribeInvocationResults":       (*Server).describeInvocationResults,
			"TagResources":                    (*Server).tagResources,
			"UntagResources":                  (*Server).untagResources,
			"ListTagResources":                (*Server).listTagResources,
		},
		tokens: set("AuthorizeSecurityGroup", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroup",
			"RevokeSecurityGroupEgress", "CreateSecurityGroup", "ModifySecurityGroupPolicy", "CreateSnapshot", "RunCommand"),
	}
}
