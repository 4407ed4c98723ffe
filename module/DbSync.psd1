# Placeholder manifest: the compiled cmdlets arrive with the PowerShell module issue. build.ps1 stamps the version.
@{
    RootModule           = ''
    ModuleVersion        = '0.1.0'
    GUID                 = '6f0f7d1e-3c1b-4f0e-9a55-0c2f3f6b9d21'
    Author               = 'DbSync'
    Description          = 'Keeps PostgreSQL in step with SQLite files.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    CmdletsToExport      = @()
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
}
