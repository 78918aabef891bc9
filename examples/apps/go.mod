module platykus.example/apps

// The example apps of inventories/lab/apps: the standard library only, so a build fetches nothing.
go 1.24
