// Views: turn engine state into tree items, output channels and the status bar.
export { DefaultGatewayStatus } from './statusBar';
export { RunOutputs, OUTPUT_LANGUAGE } from './runOutput';
export { GatewayTreeProvider, VIEW_ID, type TreeNode } from './tree';
export { TracebackNavigation, lineTarget } from './tracebackLinks';
