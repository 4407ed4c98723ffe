BeforeAll {
    . (Join-Path $PSScriptRoot 'DbSync.Pester.ps1')
}

# What conflicts are recorded is the engine's business (xunit); here: binding, parameter sets, errors and help.
Describe 'Get-DbSyncConflict' {
    BeforeEach {
        $db = Copy-Chinook ("conflict-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
    }

    It 'lists nothing for a node without conflicts' {
        Get-DbSyncConflict -NodeId ([guid]::NewGuid().ToString()) -ConnectionString $Pg -Table Track -Since (Get-Date).AddDays(-1) -Last 5 | Should -BeNullOrEmpty
    }

    It 'lists nothing for a file that never synced, and never writes to it' {
        $before = Get-FileHashText $db
        Get-DbSyncConflict -LiteralPath $db -ConnectionString $Pg | Should -BeNullOrEmpty
        Get-ChildItem -LiteralPath $db | Get-DbSyncConflict -ConnectionString $Pg | Should -BeNullOrEmpty
        Get-FileHashText $db | Should -Be $before
    }

    It 'takes a piped sync result (its Path and RunId)' {
        $schema = New-TestSchema
        try {
            $result = Start-DbSync -LiteralPath $db -ConnectionString $Pg -Schema $schema -Table Genre
            $result | Get-DbSyncConflict -ConnectionString $Pg -ErrorAction Stop | Should -BeNullOrEmpty
        }
        finally { Remove-TestSchema $schema }
    }

    It 'refuses -Path together with -NodeId' {
        { Get-DbSyncConflict -Path $db -NodeId 'x' -ConnectionString $Pg } | Should -Throw -ErrorId 'AmbiguousParameterSet,DbSync.PowerShell.Commands.GetDbSyncConflictCommand'
    }

    It 'refuses -Last 0 and a -RunId that is not a GUID' {
        { Get-DbSyncConflict -ConnectionString $Pg -Last 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,DbSync.PowerShell.Commands.GetDbSyncConflictCommand'
        { Get-DbSyncConflict -ConnectionString $Pg -RunId 'run-42' } | Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,DbSync.PowerShell.Commands.GetDbSyncConflictCommand'
    }

    It 'throws DbSync.ConnectionMissing without -ConnectionString or DBSYNC_CONNECTION' {
        $saved = $env:DBSYNC_CONNECTION
        $env:DBSYNC_CONNECTION = $null
        # A valid node id: a malformed one is a usage error first (as for the CLI's conflicts --node).
        try {
            { Get-DbSyncConflict -NodeId ([guid]::NewGuid().ToString()) } | Should -Throw -ErrorId 'DbSync.ConnectionMissing,DbSync.PowerShell.Commands.GetDbSyncConflictCommand'
            { Get-DbSyncConflict -NodeId 'x' } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.GetDbSyncConflictCommand'
        }
        finally { $env:DBSYNC_CONNECTION = $saved }
    }

    It 'throws DbSync.SourceNotFound for a missing file' {
        { Get-DbSyncConflict -LiteralPath (Join-Path $TestDrive 'nope.sqlite') -ConnectionString $Pg } | Should -Throw -ErrorId 'DbSync.SourceNotFound,DbSync.PowerShell.Commands.GetDbSyncConflictCommand'
    }

    It 'keeps the password out of the error record when the connection string is given in the path''s position' {
        $cs = 'Host=127.0.0.1;Port=1;Username=dbsync;Database=held;Password=TopSecret99'
        Push-Location $TestDrive
        try {
            $failure = $null
            try { Get-DbSyncConflict $cs $db -ErrorAction Stop } catch { $failure = $_ }
        }
        finally { Pop-Location }
        $failure.FullyQualifiedErrorId | Should -Be 'DbSync.InvalidConnectionString,DbSync.PowerShell.Commands.GetDbSyncConflictCommand'
        "$($failure.TargetObject)" | Should -Not -Match 'TopSecret99'
        "$($failure.CategoryInfo)" | Should -Not -Match 'TopSecret99'
        ($failure | Out-String) | Should -Not -Match 'TopSecret99'
    }

    It 'has three parameter sets, the default one without a required parameter' {
        $command = Get-Command Get-DbSyncConflict
        $command.ParameterSets.Name | Sort-Object | Should -Be @('LiteralPath', 'NodeId', 'Path')
        $command.DefaultParameterSet | Should -Be 'Path'
        ($command.ParameterSets | Where-Object Name -eq 'Path').Parameters | Where-Object IsMandatory | Should -BeNullOrEmpty
    }

    It 'has help with a synopsis, every parameter and examples' {
        $help = Get-Help Get-DbSyncConflict -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.parameters.parameter.name | Should -Contain 'NodeId'
        $help.parameters.parameter.name | Should -Contain 'RunId'
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
    }
}
