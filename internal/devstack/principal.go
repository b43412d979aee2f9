package devstack

import (
	"context"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/server/common/authorization"
	"google.golang.org/grpc"
)

// PrincipalHeader is the Update header in which the frontend stamps the
// authenticated caller's subject, as a JSON string payload. Update
// validators read it with interceptor.WorkflowHeader(ctx)[PrincipalHeader].
// Clients cannot set it: the frontend interceptor overwrites or removes whatever a
// client sends. The name is part of the approval contract: never rename.
const PrincipalHeader = "soar-principal"

// stampPrincipal is a frontend gRPC interceptor. On every Workflow Update
// (UpdateWorkflowExecution, and the update operations of
// ExecuteMultiOperation, i.e. UpdateWithStart) it sets the
// [PrincipalHeader] header to the subject of the caller's authorization
// claims, or removes the header when there is no authenticated subject, so a
// client can never forge it.
//
// It must run after Temporal's authorization interceptor, which puts the
// claims in the context; custom frontend interceptors always do.
func stampPrincipal(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	switch r := req.(type) {
	case *workflowservice.UpdateWorkflowExecutionRequest:
		if err := stampUpdate(ctx, r.GetRequest()); err != nil {
			return nil, err
		}
	case *workflowservice.ExecuteMultiOperationRequest:
		for _, op := range r.GetOperations() {
			if err := stampUpdate(ctx, op.GetUpdateWorkflow().GetRequest()); err != nil {
				return nil, err
			}
		}
	}
	return handler(ctx, req)
}

func stampUpdate(ctx context.Context, req *updatepb.Request) error {
	if req == nil {
		return nil
	}
	var subject string
	if claims, ok := ctx.Value(authorization.MappedClaims).(*authorization.Claims); ok && claims != nil {
		subject = claims.Subject
	}
	if subject == "" {
		if fields := req.GetInput().GetHeader().GetFields(); fields != nil {
			delete(fields, PrincipalHeader)
		}
		return nil
	}
	p, err := converter.GetDefaultDataConverter().ToPayload(subject)
	if err != nil {
		return fmt.Errorf("encode %s header: %w", PrincipalHeader, err)
	}
	if req.Input == nil {
		req.Input = &updatepb.Input{}
	}
	if req.Input.Header == nil {
		req.Input.Header = &commonpb.Header{}
	}
	if req.Input.Header.Fields == nil {
		req.Input.Header.Fields = map[string]*commonpb.Payload{}
	}
	req.Input.Header.Fields[PrincipalHeader] = p
	return nil
}
