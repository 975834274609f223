// Background (a service worker in Chromium, an event page in Firefox).
//
// It does nothing on page loads and holds no listener for tabs or navigation: the extension
// asks a node only from the popup, after a click on its button.  Its one job is to open the
// options page the first time, so a new user sets the node(s) to ask.
import { ext } from "./browser.js";
import { loadNodes } from "./settings.js";

ext.runtime.onInstalled.addListener(async ({ reason }) => {
  if (reason !== "install") return;
  const nodes = await loadNodes();
  if (nodes.length === 0) await ext.runtime.openOptionsPage();
});
