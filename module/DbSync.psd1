# The DbSync module manifest. ModuleVersion is stamped from VersionPrefix (Directory.Build.props) when the module
# is assembled (src/DbSync.PowerShell/Module.targets); the value here is only a placeholder.
@{
    RootModule           = 'DbSync.PowerShell.dll'
    ModuleVersion        = '0.0.0'
    GUID                 = '6f0f7d1e-3c1b-4f0e-9a55-0c2f3f6b9d21'
    Author               = 'DbSync'
    CompanyName          = 'DbSync'
    Copyright            = '(c) DbSync contributors'
    Description          = 'Keeps PostgreSQL in step with SQLite files: change capture by triggers, one-transaction pushes, a run log, and stable error ids for scheduled jobs.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    FormatsToProcess     = @('DbSync.format.ps1xml')
    TypesToProcess       = @('DbSync.types.ps1xml')
    CmdletsToExport      = @(
        'Start-DbSync'
        'Get-DbSyncStatus'
        'Test-DbSyncConnection'
        'Enable-DbSync'
        'Disable-DbSync'
        'Get-DbSyncLog'
        'Restore-DbSyncLog'
        'Get-DbSyncConflict'
        'Get-DbSyncQuarantine'
        'Reset-DbSyncNode'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('SQLite', 'PostgreSQL', 'Sync', 'Replication', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
        }
    }
}
