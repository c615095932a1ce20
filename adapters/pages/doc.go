// Package pages serves the agents' pages (CONTRACT.md §4, GET /): the History of
// interactions, an interaction's detail and a customer's card, rendered on the server
// with html/template over one shared layout, with a vendored, pinned htmx for "load
// more" and no front-end build. A page is another encoding of the API's answer: it reads
// through the same query code (history.ParseQuery, history.View.List and GetPage,
// timeline.View with the history's visibility), runs the task commands through
// httpapi.TaskCommands and the detail's Settings menu (CRM record, case, payment) through
// httpapi.InteractionCommands, and fills My buttons with httpapi.MyButtons: the API's own
// runners, never copies. An agent's saved views (projections/savedviews) are named list
// queries: opening one is just opening the list at that query, under the agent's own
// visibility.
//
// Sign-in: a host application opens /signin#token=<JWT>; the page's script hands the
// token to the server once in a POST body (a fragment never reaches a server or its
// logs), the server verifies it and keeps it in an HttpOnly, SameSite=Strict cookie
// (Secure over TLS). State-changing requests must come from the pages' own origin
// (Origin or Sec-Fetch-Site checked) on top of the SameSite cookie.
//
// # Caveats
//
// A SameSite=Strict cookie is not sent inside a frame whose top page is another site:
// a host application that frames the pages (FrameAncestors) must be same-site with the
// ledger (for example crm.example.com framing ledger.example.com).
package pages
