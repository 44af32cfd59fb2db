package gate

func init() {
	registerRootFields(map[string]string{
		"Mutation.inviteMember":          "members.invite",
		"Mutation.acceptInvitation":      "members.read", // the invitee's own invitation; checked in the service
		"Mutation.declineInvitation":     "members.read", // idem
		"Mutation.revokeInvitation":      "invitations.revoke",
		"Mutation.changeMemberRole":      "members.change_role",
		"Mutation.removeMember":          "members.remove",
		"Mutation.leaveOrganization":     "members.leave",
		"Mutation.retireOrganization":    "organization.retire",
		"Mutation.reenableOrganization":  "organization.reenable",
		"Mutation.retireSector":          "sector.retire",
		"Mutation.reenableSector":        "sector.reenable",
		"Mutation.retireApplication":     "application.retire",
		"Mutation.reenableApplication":   "application.reenable",
		"Mutation.setOrganizationLimits": "organization.set_limits",
		"Mutation.deleteOrganization":    "organization.delete",
		"Mutation.deleteAccount":         "members.leave", // leaves every org; guarded in the service
	})
}
