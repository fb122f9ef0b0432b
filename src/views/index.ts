// Views: turn engine state into tree items, output channels and the status bar.
export {};
