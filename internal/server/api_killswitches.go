package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/agentgate/agentgate/internal/apperr"
	"github.com/agentgate/agentgate/internal/config"
	"github.com/agentgate/agentgate/internal/registry"
	"github.com/agentgate/agentgate/internal/store"
)

func (s *Server) listKillSwitches(c *gin.Context) {
	list, err := s.registry.KillSwitches(c.Request.Context(), c.Query("all") != "true")
	if err != nil {
		s.fail(c, err)
		return
	}
	if list == nil {
		list = []store.KillSwitch{}
	}
	c.JSON(http.StatusOK, listResponse[store.KillSwitch]{Items: list})
}

func (s *Server) getKillSwitch(c *gin.Context) {
	ks, err := s.registry.KillSwitch(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ks)
}

func (s *Server) engageKillSwitch(c *gin.Context) {
	var r registry.KillRequest
	if err := decodeJSON(c, &r); err != nil {
		s.fail(c, err)
		return
	}
	ks, created, err := s.registry.Engage(c.Request.Context(), callerOf(c).Name, r)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !created {
		// Already engaged: the existing switch, unchanged.
		c.JSON(http.StatusOK, ks)
		return
	}
	c.Header("Location", "/api/v1/killswitches/"+ks.ID)
	c.JSON(http.StatusCreated, ks)
}

// releaseKillSwitch resets a switch. Admins may release any; an operator
// only a switch on an agent they own or on their own name as owner.
func (s *Server) releaseKillSwitch(c *gin.Context) {
	ctx := c.Request.Context()
	caller := callerOf(c)
	ks, err := s.registry.KillSwitch(ctx, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.mayRelease(ctx, caller.Role, caller.Name, ks); err != nil {
		s.fail(c, err)
		return
	}
	var r reasonRequest
	if err := optionalJSON(c, &r); err != nil {
		s.fail(c, err)
		return
	}
	out, err := s.registry.Release(ctx, caller.Name, ks.ID, r.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// mayRelease applies the release rule: an admin may release any switch;
// an operator only one on an agent they own, or on their own name as owner.
func (s *Server) mayRelease(ctx context.Context, role config.Role, name string, ks store.KillSwitch) error {
	if role == config.RoleAdmin {
		return nil
	}
	owner := ks.Target
	if ks.Scope == store.ScopeAgent {
		a, err := s.registry.Get(ctx, ks.Target)
		if err != nil {
			return err
		}
		owner = a.Owner
	}
	if role.Rank() < config.RoleOperator.Rank() || ks.Scope == store.ScopeGlobal || owner != name {
		return apperr.Forbidden("only an admin or the owner (%s) may release this kill switch", owner)
	}
	return nil
}
